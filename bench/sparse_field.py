"""The sparse products against dense ones: plain PCD-1 epochs, float32, all timed in one run,
rounds interleaved (this machine's timings drift by 20% within a minute).

    python bench/sparse_field.py                                 # MNIST, batch 100, 784x256
    python bench/sparse_field.py --batch 1000 --hidden 1024 --rows 20000
    python bench/sparse_field.py --density 0.2                   # random rows, 20% ones

Each round times one epoch of each contender: the GEMM floor (``common.GemmFloor``), xprbm
with every product dense (``numba_sparse.FIELD_BELOW = GATHER_BELOW = 0``), xprbm with only
the sparse field, and xprbm as shipped (the sparse field, and the gradient over the units
that are on in some row). Prints the best epoch of each and the ratios. ``--density`` (random
rows) finds the break-evens that :data:`xprbm.kernels.numba_sparse.FIELD_BELOW` and
``GATHER_BELOW`` encode.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import GemmFloor, mnist_like

import xprbm
from xprbm.kernels import numba_sparse


def contender(rows: np.ndarray, batch: int, n_hidden: int, field: float, gather: float):
    """One plain PCD-1 epoch of a fresh model with these thresholds."""
    # read when the update object is built
    numba_sparse.FIELD_BELOW, numba_sparse.GATHER_BELOW = field, gather
    rbm = xprbm.RBM(rows.shape[1], n_hidden, seed=0, fast_path="numba")
    X = rbm.visible(rows, binary=True)
    rbm.fit(X[:batch], epochs=1, batch_size=batch, centered=False, progress=False)
    trainer = rbm.trainer
    return lambda: trainer.run(X, epochs=1, progress=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--density", type=float, default=None,
                        help="random binary rows with this fraction of ones (default: MNIST)")
    args = parser.parse_args(argv)
    if args.density is None:
        rows = mnist_like(args.rows)
    else:
        rng = np.random.default_rng(0)
        rows = (rng.random((args.rows, 784)) < args.density).astype(np.float32)
    shipped = numba_sparse.FIELD_BELOW, numba_sparse.GATHER_BELOW
    shape = rows, args.batch, args.hidden
    try:
        epochs = {"GEMM floor": GemmFloor(rows, args.hidden, args.batch).epoch,
                  "xprbm, all dense": contender(*shape, 0.0, 0.0),
                  "xprbm, sparse field": contender(*shape, shipped[0], 0.0),
                  "xprbm, as shipped": contender(*shape, *shipped)}
    finally:
        numba_sparse.FIELD_BELOW, numba_sparse.GATHER_BELOW = shipped
    best = dict.fromkeys(epochs, float("inf"))
    for _ in range(args.rounds):
        for name, epoch in epochs.items():
            start = time.perf_counter()
            epoch()
            best[name] = min(best[name], time.perf_counter() - start)
            time.sleep(0.5)  # BLAS's threads spin for a while after the floor's products
    data = "MNIST" if args.density is None else f"random, {args.density:.0%} ones"
    print(f"PCD-1, batch {args.batch}, 784x{args.hidden}, {args.rows} rows ({data}), "
          f"best of {args.rounds} interleaved rounds; FIELD_BELOW, GATHER_BELOW = {shipped}")
    floor = best["GEMM floor"]
    for name, seconds in best.items():
        print(f"  {name:20s} {seconds:7.3f} s   {seconds / floor:5.2f}x floor")
    print(f"  as shipped / all dense: "
          f"{best['xprbm, as shipped'] / best['xprbm, all dense']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
