"""Write every dashboard's JSON: python -m connlab_dashboards [OUTPUT_DIR]."""

import pathlib
import sys

from . import DASHBOARDS, render

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent / "dashboards")
out.mkdir(parents=True, exist_ok=True)
for name in DASHBOARDS:
    path = out / f"{name}.json"
    path.write_text(render(name))
    print(f"connlab: wrote {path}")
