"""What the kernel knows of a server thread: its name and its priority.

The name is what /proc/<pid>/task/<tid>/comm, `top -H` and the experiments' thread
figures show (CPython names OS threads itself only from 3.14). The priority is a
worker's nice value: on Linux each thread is its own scheduling entity, so
setpriority(PRIO_PROCESS, <thread id>) changes that one thread, and raising a nice
value needs no privilege. A worker that computes at a higher nice value than the I/O
thread beside it lets the scheduler run the I/O thread as soon as it wakes, instead of
after a time slice of computation (docs/architectures.md, "Workers yield the CPU").
"""

import ctypes
import os
import threading

PR_SET_NAME = 15  # <linux/prctl.h>; the kernel keeps 15 bytes
_libc = ctypes.CDLL(None, use_errno=True)


def name_this_thread(name):
    _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def lower_this_thread(nice):
    """Run the calling thread at nice value `nice` (never raising its priority, which
    would need CAP_SYS_NICE)."""
    tid = threading.get_native_id()
    if nice > os.getpriority(os.PRIO_PROCESS, tid):
        os.setpriority(os.PRIO_PROCESS, tid, nice)
