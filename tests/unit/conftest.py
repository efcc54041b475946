import os

# Importing locust monkey-patches the whole interpreter with gevent (its normal mode, in
# its own process). Here it would patch pytest's process after docker/ssl are imported;
# the load generator's client uses gevent's sockets explicitly, so it needs no patching.
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")
