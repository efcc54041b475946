"""Read-only tables: each thread reads its own copy (see connlab/ownership.py)."""

import threading

from connlab.ownership import mine


def test_each_thread_reads_its_own_copy_of_a_table():
    table = {b"PING": 1}
    here = mine(table)
    assert here == table and here is not table and mine(table) is here
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(mine(table)))
    thread.start()
    thread.join()
    assert theirs[0] == table and theirs[0] is not here
