"""The simulated machine: cores, processes with a GIL or without, and threads that
compute (on a core, holding their process's GIL if it has one) or block (neither)."""

import simpy

SWITCH_INTERVAL = 0.005  # sys.getswitchinterval(): how long a thread keeps the GIL while another waits


class Machine:
    def __init__(self, env, cores):
        self.env = env
        self.cores = simpy.Resource(env, cores)


class Process:
    """An OS process: its threads share one GIL, or none on a free-threaded build."""

    def __init__(self, machine, gil=True):
        self.machine = machine
        self.gil = simpy.Resource(machine.env, 1) if gil else None

    def compute(self, seconds):
        """A thread of this process computing for `seconds` of CPU: it takes the GIL (where
        there is one) and a core, in slices of the switch interval, so that threads
        waiting for the GIL take turns as CPython's forced switch makes them."""
        env, cores = self.machine.env, self.machine.cores
        left = seconds
        while left > 0:
            piece = min(left, SWITCH_INTERVAL) if self.gil else left
            held = self.gil.request() if self.gil else None
            if held is not None:
                yield held
            with cores.request() as core:
                yield core
                yield env.timeout(piece)
            if held is not None:
                self.gil.release(held)
            left -= piece

    def block(self, seconds):
        """A thread waiting (a sleep, a downstream call): no core, no GIL."""
        yield self.machine.env.timeout(seconds)
