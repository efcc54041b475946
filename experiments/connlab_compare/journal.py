"""A run's folder while it is measured, so that nothing measured is lost.

`run.json` (what was asked and the machine) is written before the first step;
`points.jsonl` gets one line per point as soon as it is measured, flushed to disk.
Ctrl-C, a crash or a failed check leaves both: `make compare-report RUN=...` draws them
as a report marked partial, and `make compare RESUME=...` plans the same cells again,
keeps the ones whose every point is on disk and measures the rest.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RUN, POINTS, RESULTS = "run.json", "points.jsonl", "results.json"
# results.json's format: 3 gives every point the `protocol` its load spoke; 2 named a
# point's design or reference `target` (1, unversioned, called it `arch`, which elsewhere
# means the ARCH setting). Older runs are read as 3: they all spoke RESP.
SCHEMA = 3
OLD_PROTOCOL = "resp"  # what every run before protocols spoke


def upgraded(point):
    """A point (or a verdict row) in today's format, whichever format wrote it."""
    if "arch" in point:
        point["target"] = point.pop("arch")
    point.setdefault("protocol", OLD_PROTOCOL)
    return point


@dataclass(frozen=True)
class Cell:
    """One repetition of one scenario on one target and build, in one protocol, on a
    fresh server."""

    repeat: int
    scenario: str  # the scenario's name
    target: str  # a design's or a reference's name
    python: str  # the server build, or the reference's own build ("C")
    protocol: str = OLD_PROTOCOL  # what its load speaks (the server's PROTOCOL)

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, value):
        """A cell as run.json keeps it; before cells had names, [repeat, scenario, arch, python];
        before protocols, without one (RESP)."""
        return cls(**value) if isinstance(value, dict) else cls(*value)


class Journal:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def start(self, run):
        (self.folder / RUN).write_text(json.dumps(run, indent=1) + "\n")

    def append(self, point):
        with open(self.folder / POINTS, "a") as file:
            file.write(json.dumps(point) + "\n")
            file.flush()
            os.fsync(file.fileno())

    def keep(self, points):
        """Rewrite the points file with `points` only (a resumed run drops its unfinished cells)."""
        (self.folder / POINTS).write_text("".join(json.dumps(point) + "\n" for point in points))


def protocols_asked(arguments):
    """The protocols a run's arguments name (runs started before protocols spoke RESP)."""
    return arguments.get("protocols", [OLD_PROTOCOL])


def targets_asked(arguments):
    """The targets a run's arguments name (runs started before targets had one name
    kept them as "archs")."""
    return arguments.get("targets", arguments.get("archs", []))


def read(folder):
    """(run, points) of a journal; a last line cut short by a crash is left out."""
    folder = Path(folder)
    run = json.loads((folder / RUN).read_text())
    points = []
    path = folder / POINTS
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            points.append(upgraded(json.loads(line)))
        except ValueError:
            continue  # written half when the run stopped
    return run, points


def cell_of(point):
    return Cell(point["repeat"], point["scenario"], point["target"], point["python"], point["protocol"])


def finished_cells(points, expected):
    """The cells whose every expected (step, client) has a point: {cell: [points]}.
    `expected(cell)` is the set of (step, client) a cell measures."""
    cells = {}
    for point in points:
        cells.setdefault(cell_of(point), []).append(point)
    return {cell: mine for cell, mine in cells.items()
            if {(p["step"], p["client"]) for p in mine} >= expected(cell)}  # fmt: skip
