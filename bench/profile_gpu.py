"""Where a PCD-k epoch on CuPy spends its time, for each benchmarked shape.

    python bench/profile_gpu.py          # needs a CUDA device

For each shape and k: the best of three epochs (``trainer.run``, as the benchmark times it),
the best of three passes of the updates alone, with a CUDA graph and launch by launch, and the
cuBLAS floor of the same products (replayed from a CUDA graph; also called from Python), all
in one process; then a cProfile table of one
batch-1000 epoch, which shows what the epoch costs besides its updates.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import time

import numpy as np
from common import SHAPES, GemmFloor, GraphGemmFloor, mnist_like

import xprbm


def best(fn, sync, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def trained(X, shape: str, k: int, graphs: bool) -> xprbm.Trainer:
    os.environ["XPRBM_CUDA_GRAPHS"] = "1" if graphs else "0"
    batch, n_visible, n_hidden = SHAPES[shape]
    rbm = xprbm.RBM(n_visible, n_hidden, backend="cupy", seed=0)
    rbm.fit(X[:batch], epochs=1, batch_size=batch, k=k, centered=False, progress=False)
    return rbm.trainer


def main() -> None:
    cp = xprbm.get_backend("cupy").xp
    sync = cp.cuda.get_current_stream().synchronize
    X = cp.asarray(mnist_like(60_000))
    n = X.shape[0]
    for shape, (batch, _, n_hidden) in SHAPES.items():
        for k in (1, 10):
            order = cp.asarray(np.random.default_rng(0).permutation(n))
            floor = best(GraphGemmFloor(X, n_hidden, batch, k=k).epoch, sync)
            python_floor = best(GemmFloor(X, n_hidden, batch, k=k, xp=cp).epoch, sync)
            line = [f"pcd{k}-{shape}: floor {floor * 1e3:.1f} ms (products called from "
                    f"Python: {python_floor * 1e3:.1f} ms)"]
            for graphs in (True, False):
                trainer = trained(X, shape, k, graphs)

                def updates(trainer=trainer, order=order, batch=batch):
                    for first in range(0, n, batch):
                        trainer._update(X, order[first:first + batch])

                epoch = best(lambda trainer=trainer: trainer.run(X, epochs=1, progress=False),
                             sync)
                alone = best(updates, sync)
                name = "graph" if graphs else "direct"
                line.append(f"{name}: epoch {epoch * 1e3:.1f} ms ({epoch / floor:.2f}), "
                            f"updates {alone * 1e3:.1f} ms ({alone / floor:.2f})")
            print("; ".join(line), flush=True)
    trainer = trained(X, "b1000-784x1024", 1, True)
    trainer.run(X, epochs=1, progress=False)
    profile = cProfile.Profile()
    profile.runcall(trainer.run, X, epochs=1, progress=False)
    pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
