"""A model of each design as a discrete-event simulation (simpy): what it would do on
more cores than the lab's machine has, from what the lab measured.

Included: cores; processes and their threads; the GIL (one holder per process; a thread
that computes hands it over after the switch interval when another waits, and drops it
while it blocks), and its absence on a free-threaded build; how a request reaches the
thread that executes it (the loop that read it, a pool behind one I/O thread, a thread
per connection, a process per SO_REUSEPORT socket); where connections land (round robin,
or, for a listener per process, the kernel's SO_REUSEPORT hash: at random, so a process
may get none); closed-loop clients with one request in flight per connection; and new
connections, one request each, arriving at random (storm.py): accepted by the design's
one acceptor thread and handed on, or by the thread that serves them. Every input is
read from a measurement (inputs.py, compared.py, accepting.py): a design's cost per
request beyond its command; its CPU per new connection and its acceptor's share.

Left out (so far): the shared accept queue's wake-up policies (EPOLLEXCLUSIVE's LIFO,
blocking accept's FIFO) and the dispatchers' policies beyond round robin, the client,
the network and the variance of service (so its p99 is the server's queue alone),
caches, memory bandwidth and the kernel's network stack beyond a cost per request or
connection. Where the model misses the measured figures by more than the goal
(throughput within 15 %), its table says so and draws no prediction for that design.
"""
