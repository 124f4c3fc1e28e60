"""Training on a shared CPU: an epoch with one core kept busy by another process, against the
same epoch on an idle machine, runs alternated in one process.

    python bench/shared_cpu.py                 # 784x256 batch 100 and 784x16, 60,000 rows
    python bench/shared_cpu.py --rows 6000     # quicker
    python bench/shared_cpu.py --hidden 16     # one model

For each model it prints the median epoch of each condition over ``--rounds`` alternations:

- ``idle``: nothing else runs;
- ``busy``: a Python busy loop (another process, not pinned) runs beside the epoch;
- ``... fixed N threads``: the same with the thread governor replaced by a fixed count (what
  xprbm did before :mod:`xprbm.kernels.threads`), for comparison.

The ratios busy / idle are the figure of merit (target: at most 2.2 with the governor). The
machine must be otherwise idle while this runs.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numba

# measure the checkout this script belongs to, not whatever xprbm is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import mnist_like  # noqa: E402

import xprbm  # noqa: E402

#: (label, n_hidden, batch size)
MODELS = (("784x256 batch 100", 256, 100), ("784x16 batch 100", 16, 100))
BUSY_LOOP = "while True: pass"


@contextlib.contextmanager
def busy_core(enabled: bool) -> Iterator[None]:
    """Another process spinning on one core while the block runs."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    time.sleep(0.2)  # let it start spinning
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


class FixedThreads:
    """Stands in for the governor: every call on ``n`` threads."""

    def __init__(self, n: int) -> None:
        self.n = n

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        previous = numba.get_num_threads()
        numba.set_num_threads(self.n)
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def trainer_for(X, n_hidden: int, batch: int) -> xprbm.Trainer:
    rbm = xprbm.RBM(X.shape[1], n_hidden, seed=0)
    rbm.fit(X[:batch], epochs=1, batch_size=batch, progress=False)  # compile, allocate
    return rbm.trainer


def epoch_seconds(trainer: xprbm.Trainer, X, busy: bool) -> float:
    with busy_core(busy):
        start = time.perf_counter()
        trainer.run(X, epochs=1, progress=False)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[n for _, n, _ in MODELS],
                        help="which models to run, by hidden units (default: all)")
    args = parser.parse_args(argv)
    X = mnist_like(args.rows)
    limit = numba.get_num_threads()
    print(f"{args.rows} rows, PCD-1, Numba threads allowed: {limit}, {args.rounds} rounds, "
          "median epoch seconds\n")
    print("| model | idle | one core busy | busy / idle | idle, fixed "
          f"{limit} threads | busy, fixed {limit} threads | busy / idle, fixed | "
          "idle, fixed 1 thread |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, n_hidden, batch in MODELS:
        if n_hidden not in args.hidden:
            continue
        governed = trainer_for(X, n_hidden, batch)
        fixed = trainer_for(X, n_hidden, batch)
        fixed._updater.threads = FixedThreads(limit)
        single = trainer_for(X, n_hidden, batch)
        single._updater.threads = FixedThreads(1)
        times: dict[str, list[float]] = {}
        for _ in range(args.rounds):  # alternated, so that drifts hit every condition alike
            for name, trainer, busy in (("idle", governed, False), ("busy", governed, True),
                                        ("fixed idle", fixed, False),
                                        ("fixed busy", fixed, True),
                                        ("single idle", single, False)):
                times.setdefault(name, []).append(epoch_seconds(trainer, X, busy))
        med = {name: statistics.median(values) for name, values in times.items()}
        print(f"| {label} | {med['idle']:.3f} | {med['busy']:.3f} | "
              f"{med['busy'] / med['idle']:.2f} | {med['fixed idle']:.3f} | "
              f"{med['fixed busy']:.3f} | {med['fixed busy'] / med['fixed idle']:.2f} | "
              f"{med['single idle']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
