"""What a run leaves besides its report: its points as CSV, where it came from (the
commit, whether the tree was dirty, a hash of each scenario file, the packages inside
each image), and the list of every run under results/compare/ (index.html there)."""

import csv
import hashlib
import html
import json
import subprocess
from pathlib import Path

from . import containers

CSV = "points.csv"
POINT_FIELDS = ("scenario", "target", "python", "protocol", "step", "base", "x", "repeat", "client")
# What each image's Python holds that can change a figure; read, not assumed.
PACKAGES = {"server": ("prometheus_client", "psutil", "httptools"),
            "loadgen": ("locust", "gevent", "greenlet", "hiredis", "httptools")}
ROOT = Path(__file__).resolve().parents[2]


def write_csv(out, points):
    """One row per point: its place, then every figure that is a single number."""
    scalar = lambda value: isinstance(value, (int, float))  # noqa: E731 (bool counts: bound or not)
    metrics = list(dict.fromkeys(k for p in points for k, v in p["metrics"].items() if scalar(v)))
    with open(out / CSV, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*POINT_FIELDS, *metrics])
        for point in points:
            writer.writerow([*(point[f] for f in POINT_FIELDS), *(point["metrics"].get(m, "") for m in metrics)])


def provenance(scenario_files):
    """{commit, dirty, scenario_hashes} of this checkout; commit None outside git."""
    def git(*args):
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None,
            "scenario_hashes": {Path(f).stem: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in scenario_files}}  # fmt: skip


def packages(image):
    """{package: version} inside `image` (a server or the load generator)."""
    names = PACKAGES["loadgen" if "/loadgen:" in image else "server"]
    script = ("import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in %r}))" % (names,))
    try:
        status, output = containers.run_to_end(image, ["-c", script], entrypoint="python", timeout=120, stderr=False)
    except containers.ContainerError as exc:
        status, output = 1, str(exc)
    return json.loads(output) if status == 0 else {"error": output.strip()[-200:]}


def write_index(root):
    """root/index.html: every run under `root`, newest first."""
    rows = []
    for results_file in sorted(Path(root).glob("*/results.json"), reverse=True):
        try:
            results = json.loads(results_file.read_text())
        except ValueError:
            continue
        machine, counts = results.get("machine", {}), {}
        for row in results.get("verdicts", []):
            counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
        commit = machine.get("commit") or "–"
        rows.append([f"<a href='{html.escape(results_file.parent.name)}/index.html'>{html.escape(results_file.parent.name)}</a>",
                     results.get("started", ""), f"{machine.get('cpu_model', '')}, {machine.get('cpus', '')} CPUs",
                     ", ".join(machine.get("pythons", [])), ", ".join(machine.get("protocols", ["resp"])),
                     ", ".join(machine.get("scenarios", [])),
                     commit[:10] + (" (dirty)" if machine.get("dirty") else ""),
                     ", ".join(f"{n} {v}" for v, n in sorted(counts.items())), "partial" if results.get("partial") else ""])  # fmt: skip
    header = ["run", "started", "machine", "builds", "protocols", "scenarios", "commit", "verdicts", ""]
    page = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>connlab runs</title><style>",
            "body{font:14px/1.45 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}",
            "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}</style></head><body><h1>connlab: every run</h1>",
            "<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]  # fmt: skip
    page += ["<tr>" + "".join(f"<td>{cell if i == 0 else html.escape(str(cell))}</td>" for i, cell in enumerate(row))
             + "</tr>" for row in rows]  # fmt: skip
    (Path(root) / "index.html").write_text("\n".join([*page, "</table></body></html>"]) + "\n")
