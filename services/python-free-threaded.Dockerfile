# A free-threaded CPython (3.13t: built with --disable-gil) on the server image's base.
# No official free-threaded image exists, so both image routes build it from Debian
# trixie's own python3.13 source package, in a builder stage; the result keeps only the
# interpreter under /opt/python3.13t, first on PATH, so that `python3` is 3.13t.
# The package's upstream tarball is built as it is: Debian's patches adapt CPython to
# Debian's own layout (dist-packages, no ensurepip for the system Python), and with them
# a venv of a free-threaded build in its own prefix finds neither pip nor its packages.
# BASE_IMAGE is python:3.13-slim where a registry answers, else the debootstrap'd trixie
# base (scripts/images.sh); either is Debian trixie, whose mirror serves the source.
ARG BASE_IMAGE=python:3.13-slim
FROM ${BASE_IMAGE} AS builder
ARG DEBIAN_MIRROR=http://deb.debian.org/debian
RUN echo "deb-src ${DEBIAN_MIRROR} trixie main" > /etc/apt/sources.list.d/connlab-src.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make pkg-config xz-utils libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev \
 && mkdir /src && cd /src && apt-get source --download-only python3.13 \
 && tar xf python3.13_*.orig.tar.xz && mv Python-3.13.* python3.13
WORKDIR /src/python3.13
RUN ./configure --disable-gil --prefix=/opt/python3.13t --without-static-libpython \
      --with-ensurepip=no >/tmp/configure.log \
 && make -j"$(nproc)" >/tmp/make.log 2>&1 \
 && make install >/tmp/install.log 2>&1 \
 && /opt/python3.13t/bin/python3.13t -c "import sys, sysconfig; assert sysconfig.get_config_var('Py_GIL_DISABLED') == 1 and not sys._is_gil_enabled()" \
 && rm -rf /opt/python3.13t/lib/python3.13t/test /opt/python3.13t/lib/python3.13t/idlelib /opt/python3.13t/lib/python3.13t/tkinter

FROM ${BASE_IMAGE}
# The runtime libraries the build links to (libssl3, libffi8, zlib, bz2, lzma) are part
# of either base already.
COPY --from=builder /opt/python3.13t /opt/python3.13t
RUN ln -sf python3.13t /opt/python3.13t/bin/python3 && ln -sf python3.13t /opt/python3.13t/bin/python
ENV PATH=/opt/python3.13t/bin:$PATH
CMD ["python3"]
