"""A progress line while `make compare` runs: the scenario, architecture, step and
repetition under way, how many steps are done, and the time left at the pace so far."""

import sys
import time


class Progress:
    def __init__(self, total, stream=sys.stderr):
        self.total, self.completed, self.stream = total, 0, stream
        self.started = time.monotonic()
        self.live = stream.isatty()

    def show(self, scenario, arch, python, step, repeat):
        elapsed = time.monotonic() - self.started
        left = elapsed / self.completed * (self.total - self.completed) if self.completed else None
        width = 24
        filled = width * self.completed // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        eta = f"{left / 60:.0f} min left" if left is not None else "estimating"
        line = f"[{bar}] {self.completed}/{self.total} {scenario} · {arch} ({python}) · {step} · rep {repeat} · {eta}"
        if self.live:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self):
        self.completed += 1

    def note(self, text):
        """A line of its own, above the progress line."""
        self.stream.write(("\r\033[K" if self.live else "") + f"connlab: compare: {text}\n")
        self.stream.flush()

    def add(self, steps):
        self.total += steps

    def finish(self):
        minutes = (time.monotonic() - self.started) / 60
        self.stream.write(("\n" if self.live else "") + f"connlab: compare: {self.completed} steps in {minutes:.1f} min\n")
