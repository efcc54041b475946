# redis-server and redis-benchmark for `make bench-loadgen`: the official image where a
# registry answers (BASE_IMAGE=redis:7.4), else the offline trixie base plus Debian's
# packages (apt over plain http works inside containers).
ARG BASE_IMAGE=redis:7.4
FROM ${BASE_IMAGE}
USER root
RUN command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends redis-server redis-tools \
     && rm -rf /var/lib/apt/lists/*)
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
