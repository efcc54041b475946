"""A model of each design as a discrete-event simulation (simpy): what it would do on
more cores than the lab's machine has, from what the lab measured.

Included: cores; processes and their threads; the GIL (one holder per process; a thread
that computes hands it over after the switch interval when another waits, and drops it
while it blocks), and its absence on a free-threaded build; how a request reaches the
thread that executes it (the loop that read it, a pool behind one I/O thread, a thread
per connection, a process per SO_REUSEPORT socket); closed-loop clients with one
request in flight per connection. Every input is read from a measurement
(inputs.py): the requests/s each design served on one CPU gives its cost per request
beyond the command itself.

Left out (so far): the accept queue and its wake-up policies (EPOLLEXCLUSIVE's LIFO,
blocking accept's FIFO, the reuseport hash's imbalance), new connections, tail latency
checked against measurement, caches, memory bandwidth and the kernel's network stack
beyond a cost per request. Where the model misses the measured figures by more than the
goal (throughput within 15 %), its table says so and draws no prediction for that design.
"""
