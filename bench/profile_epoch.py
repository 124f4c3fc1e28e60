"""Where one PCD-1 epoch (60,000 x 784, 256 hidden, batch 100) spends its time, and what
a row-parallel Numba Bernoulli kernel would change.

    python bench/profile_epoch.py                 # per-kernel breakdown (cProfile) + ratio
    python bench/profile_epoch.py --parallel      # the same with row-parallel kernels swapped in
    OMP_WAIT_POLICY=PASSIVE python bench/profile_epoch.py --parallel
    NUMBA_THREADING_LAYER=workqueue python bench/profile_epoch.py --parallel

The ratio is xprbm's best of three epochs over the best of three GEMM-floor epochs, same process.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import numba
from common import GemmFloor, mnist_like

import xprbm
from xprbm.kernels import numba_cpu


def use_parallel_kernels() -> None:
    """Run the Bernoulli kernel row-parallel at every size (it has both compilations)."""
    numba_cpu.PARALLEL_MIN_ELEMENTS = 0


def best(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", action="store_true")
    args = parser.parse_args()
    if args.parallel:
        use_parallel_kernels()
    X = mnist_like(60_000)
    rbm = xprbm.RBM(784, 256, seed=0)
    rbm.fit(X[:100], epochs=1, progress=False)
    trainer = rbm.trainer
    epoch = best(lambda: trainer.run(X, epochs=1, progress=False))
    floor = best(GemmFloor(X, 256, 100).epoch)
    layer = os.environ.get("NUMBA_THREADING_LAYER", "default")
    print(f"kernels={'parallel' if args.parallel else 'serial'} threading layer={layer} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')} "
          f"numba threads={numba.get_num_threads()}")
    print(f"xprbm epoch {epoch:.3f} s, floor {floor:.3f} s, ratio {epoch / floor:.2f}")
    profile = cProfile.Profile()
    profile.runcall(trainer.run, X, epochs=1, progress=False)
    pstats.Stats(profile).sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
