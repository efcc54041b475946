"""connlab's HTTP routes as a WSGI app, for the threaded servers (gunicorn's gthread,
granian's blocking threads): /sleep blocks its thread (time.sleep), /work burns its
thread's CPU. Each request counts on its thread's counters (counts.py) before its reply."""

import os
import time

import counts
import routes

# Imported in each worker process: its pool listed at once, idle threads included.
counts.declare_threads(int(os.environ.get("THREADS", "1")))


def app(environ, start_response):
    path = environ["PATH_INFO"]
    error, argument = routes.check(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""))
    if error:
        status, body, headers = error
    else:
        status, body, headers = 200, b"OK", []
        if path == "/ping":
            body = b"PONG"
        elif path == "/echo":
            body = environ["wsgi.input"].read()
        elif path == "/sleep":
            time.sleep(argument / 1000)
        elif path == "/work":
            routes.burn_cpu(argument)
        elif path == "/info":
            body = routes.INFO
    counts.thread()[counts.REQUESTS] += 1
    start_response(routes.status_line(status), [routes.TEXT, ("Content-Length", str(len(body))), *headers])
    return [body]
