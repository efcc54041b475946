"""gunicorn's gthread worker serving wsgi.py: WORKERS processes (default 4) on one shared
socket, each an acceptor (its main thread polls the listener and the idle keep-alive
connections) handing every readable connection to a pool of THREADS threads (default 4)
that read, parse and run the request. No access log (gunicorn's default)."""

import os

from gunicorn.workers.gthread import ThreadWorker

import counts

wsgi_app = "wsgi:app"
bind = ["0.0.0.0:8000"]
workers = int(os.environ.get("WORKERS", "4"))
threads = int(os.environ.get("THREADS", "4"))
backlog = 4096
worker_connections = 20000  # gthread's cap on a process's connections: the lab opens up to thousands
keepalive = 3600  # seconds an idle keep-alive connection stays open (gunicorn's default: 2)
loglevel = "warning"


class CountedThreadWorker(ThreadWorker):
    """gthread, writing the open connections it keeps count of itself (nr_conns, changed
    on its main thread only) to its process's counters, and listing its pool's threads."""

    _words = None

    @property
    def nr_conns(self):
        return self._nr_conns

    @nr_conns.setter
    def nr_conns(self, value):
        self._nr_conns = value
        if self._words is not None:
            self._words[counts.ACTIVE] = value

    def init_process(self):  # in the forked worker, before it serves
        self._words = counts.process(counts.READER)
        counts.declare_threads(self.cfg.threads)
        super().init_process()


worker_class = CountedThreadWorker
