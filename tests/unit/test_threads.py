"""The kernel's view of a server thread: its name and its nice value, per thread."""

import os
import threading
from pathlib import Path

from connlab import threads


def run_in_thread(target):
    found = {}
    thread = threading.Thread(target=lambda: found.update(target()))
    thread.start()
    thread.join()
    return found


def test_a_thread_names_itself_for_proc_and_top():
    def name():
        threads.name_this_thread("worker-p1-a-very-long-name")
        return {"comm": Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()}

    assert run_in_thread(name)["comm"] == "worker-p1-a-ver"  # the kernel keeps 15 bytes


def test_a_worker_lowers_its_own_priority_and_only_its_own():
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    lower_to = min(main + 5, 19)

    def lower():
        threads.lower_this_thread(lower_to)
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        threads.lower_this_thread(main)  # never back up: that would need CAP_SYS_NICE
        return {"mine": mine, "after": os.getpriority(os.PRIO_PROCESS, threading.get_native_id())}

    found = run_in_thread(lower)
    assert found == {"mine": lower_to, "after": lower_to}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main
