"""Seconds from starting ``xprbm demo`` to its first training update.

    python bench/startup.py            # three runs with the kernels already compiled
    python bench/startup.py --cold     # the first run in a fresh cache directory, then two more

Each run is a new process (``python -m xprbm demo``, through a small wrapper that stops it at
its first update). The time includes the interpreter's start, the imports, loading the
digits and the kernels from the per-user cache (compiling them with ``--cold``), the input
checks and the first update's set-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the child: note the wall time of the first update and stop there
CHILD = """
import sys, time
import xprbm.train as train
def first(self, *args):
    print(f"FIRST {time.time()!r}", flush=True)
    raise SystemExit(0)
train.Trainer._update = first
from xprbm.cli import main
main(["demo", "--out", sys.argv[1], "--epochs", "1", "--quiet"])
"""


def seconds_to_first_update(out: str, env: dict[str, str]) -> float:
    start = time.time()
    result = subprocess.run([sys.executable, "-c", CHILD, out], capture_output=True, text=True,
                            env=env, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("FIRST "):
            return float(line.split()[1]) - start
    raise RuntimeError(f"the demo never reached an update:\n{result.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true",
                        help="start from an empty cache directory (compiles the kernels)")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        if args.cold:
            env["XDG_CACHE_HOME"] = str(Path(folder) / "cache")
            env.pop("NUMBA_CACHE_DIR", None)
        for run in range(args.runs + args.cold):
            label = "first run, empty cache" if args.cold and run == 0 else "cached"
            seconds = seconds_to_first_update(str(Path(folder) / f"demo{run}"), env)
            print(f"{label}: first update {seconds:.2f} s after the start", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
