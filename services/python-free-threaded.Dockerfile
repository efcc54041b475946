# A free-threaded CPython (PY_VERSION + "t": built with --disable-gil) on the server
# image's base. No official free-threaded image exists, so both image routes build it
# from Debian's own python3.X source package, in a builder stage; the result keeps only
# the interpreter under /opt/python3.Xt, first on PATH, so that `python3` is 3.Xt.
# The defaults build 3.13t from trixie; 3.14t comes from sid, the only suite with a
# python3.14 (PY_VERSION=3.14 DEBIAN_SUITE=sid): its source on a trixie toolchain.
# The package's upstream tarball is built as it is: Debian's patches adapt CPython to
# Debian's own layout (dist-packages, no ensurepip for the system Python), and with them
# a venv of a free-threaded build in its own prefix finds neither pip nor its packages.
# BASE_IMAGE is python:3.13-slim where a registry answers, else the debootstrap'd trixie
# base (scripts/images.sh); either is Debian trixie, whose mirror serves the source.
ARG BASE_IMAGE=python:3.13-slim
FROM ${BASE_IMAGE} AS builder
ARG DEBIAN_MIRROR=http://deb.debian.org/debian
ARG PY_VERSION=3.13
ARG DEBIAN_SUITE=trixie
RUN echo "deb-src ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main" > /etc/apt/sources.list.d/connlab-src.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make pkg-config xz-utils libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev \
 && mkdir /src && cd /src && apt-get source --download-only python${PY_VERSION} \
 && tar xf python${PY_VERSION}_*.orig.tar.xz && mv Python-${PY_VERSION}.* python${PY_VERSION}
# The build directory's path is recorded in the installed sysconfig data: keep it /src/python3.X.
WORKDIR /src/python${PY_VERSION}
RUN prefix=/opt/python${PY_VERSION}t \
 && ./configure --disable-gil --prefix=$prefix --without-static-libpython \
      --with-ensurepip=no >/tmp/configure.log \
 && make -j"$(nproc)" >/tmp/make.log 2>&1 \
 && make install >/tmp/install.log 2>&1 \
 && $prefix/bin/python${PY_VERSION}t -c "import sys, sysconfig; assert sysconfig.get_config_var('Py_GIL_DISABLED') == 1 and not sys._is_gil_enabled()" \
 && cd $prefix/lib/python${PY_VERSION}t && rm -rf test idlelib tkinter

FROM ${BASE_IMAGE}
ARG PY_VERSION=3.13
# The runtime libraries the build links to (libssl3, libffi8, zlib, bz2, lzma) are part
# of either base already.
COPY --from=builder /opt/python${PY_VERSION}t /opt/python${PY_VERSION}t
RUN ln -sf python${PY_VERSION}t /opt/python${PY_VERSION}t/bin/python3 && ln -sf python${PY_VERSION}t /opt/python${PY_VERSION}t/bin/python
ENV PATH=/opt/python${PY_VERSION}t/bin:$PATH
CMD ["python3"]
