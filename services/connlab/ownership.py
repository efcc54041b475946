"""Read-only tables, one copy per thread that reads them.

On the free-threaded build (3.13.5t) `dict.get()` called by a thread that did not make
the dict costs about 24 µs, 450 times the same call on a dict the thread made itself
(subscripts do not pay it; benchmarks/dict_ownership.py measures it). With every request
reading the command table and the parser's header tables, designs whose threads are
not the main one ran up to 20 times slower. So each thread reads its own copy, made on
its first use there. On the GIL build this changes nothing but a copy per thread.
"""

import threading

_copies = threading.local()


def mine(table):
    """This thread's own copy of `table`."""
    copies = _copies.__dict__  # made by, and so owned by, the calling thread
    copy = copies.get(id(table))
    if copy is None:
        copy = copies[id(table)] = dict(table)
    return copy
