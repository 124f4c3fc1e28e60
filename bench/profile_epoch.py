"""Where one PCD-1 epoch (60,000 x 784, 256 hidden, batch 100) spends its time.

    python bench/profile_epoch.py                        # epoch / floor ratio + breakdown
    NUMBA_NUM_THREADS=1 python bench/profile_epoch.py    # the same update on one thread

The ratio is xprbm's best of three epochs over the best of three GEMM-floor epochs, same
process. "updates only" times the 600 updates without the input check and the per-epoch
monitoring; the cProfile table shows what the rest of the epoch costs.
"""

from __future__ import annotations

import cProfile
import pstats
import time

import numba
import numpy as np
from common import GemmFloor, mnist_like

import xprbm
from xprbm.backend import single_thread_blas_if_small


def best(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    X = mnist_like(60_000)
    rbm = xprbm.RBM(784, 256, seed=0)
    rbm.fit(X[:100], epochs=1, centered=False, progress=False)  # the plain PCD update
    trainer = rbm.trainer
    epoch = best(lambda: trainer.run(X, epochs=1, progress=False))
    order = np.random.default_rng(0).permutation(X.shape[0])

    def updates() -> None:
        with single_thread_blas_if_small("numpy", 0, always=True):
            for first in range(0, X.shape[0], 100):
                trainer._update(X, order[first:first + 100])

    updates_only = best(updates)
    floor = best(GemmFloor(X, 256, 100).epoch)
    print(f"numba threads={numba.get_num_threads()}")
    print(f"xprbm epoch {epoch:.3f} s, updates only {updates_only:.3f} s, floor {floor:.3f} s, "
          f"ratio {epoch / floor:.2f} (updates only {updates_only / floor:.2f})")
    profile = cProfile.Profile()
    profile.runcall(trainer.run, X, epochs=1, progress=False)
    pstats.Stats(profile).sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
