"""What centring costs: one epoch of the fused Numba update, plain and centred, and of the
array update that centred training ran on before it was fused.

    python bench/centred_epoch.py                  # 784x500, the 4000 training digits
    python bench/centred_epoch.py --hidden 256

Best of three epochs each (batch 100, PCD-1, the per-epoch metrics included), in one process.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# measure the checkout this script belongs to, not whatever xprbm is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xprbm  # noqa: E402
from xprbm.datasets import mnist_5k  # noqa: E402

#: (label, fast path, centered)
CASES = (("plain, fused Numba update", "auto", False),
         ("centred, fused Numba update", "auto", True),
         ("centred, array update (fast_path='generic')", "generic", True))


def best_epoch(X, hidden: int, fast_path: str, centered: bool, rounds: int) -> float:
    rbm = xprbm.RBM(X.shape[1], hidden, seed=0, fast_path=fast_path)
    rbm.fit(X[:200], epochs=1, centered=centered, progress=False)  # compile, allocate
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        rbm.trainer.run(X, epochs=1, progress=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    X, _ = mnist_5k(split="train")
    print(f"784x{args.hidden}, {X.shape[0]} rows, batch 100, best of {args.rounds} epochs\n")
    print("| update | seconds per epoch |")
    print("|---|---:|")
    for label, fast_path, centered in CASES:
        seconds = best_epoch(X, args.hidden, fast_path, centered, args.rounds)
        print(f"| {label} | {seconds:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
