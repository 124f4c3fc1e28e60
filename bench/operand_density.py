"""How many ones do the binary operands of a PCD update hold, through training on MNIST?

    python bench/operand_density.py                 # 784x256, batch 100, 10 epochs
    python bench/operand_density.py --hidden 1024 --batch 1000

Every product of a PCD-1 update has one 0/1 operand: the data batch (``X @ W``,
``X.T @ PH``), the persistent visible chains (``V @ W``, ``V.T @ PN``) and the hidden states
drawn for the chains (``H @ W.T``). Kernels that skip zeros (issue "Speed II", part 1) pay
off only where those are sparse; this prints the fraction of ones of each after every epoch
(the chains' states at the epoch's end; the data over all rows).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# measure the checkout this script belongs to, not whatever xprbm is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import mnist_like  # noqa: E402

import xprbm  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--centered", action=argparse.BooleanOptionalAction, default=False,
                        help="centred training (default: the plain update the floor describes)")
    args = parser.parse_args(argv)
    X = mnist_like(args.rows)
    rbm = xprbm.RBM(X.shape[1], args.hidden, seed=0)
    print(f"784x{args.hidden}, PCD-1, batch {args.batch}, {args.rows} rows, centered="
          f"{args.centered}; fraction of ones\n")
    print("| epoch | data batch X | visible chains V | hidden chain states H |")
    print("|---:|---:|---:|---:|")
    data = float(X.mean())

    def report(trainer: xprbm.Trainer) -> None:
        state = trainer.state
        print(f"| {state.epoch} | {data:.3f} | {float(np.mean(state.chains)):.3f} | "
              f"{float(np.mean(state.hidden_chains)):.3f} |", flush=True)

    rbm.fit(X, epochs=args.epochs, batch_size=args.batch, centered=args.centered,
            monitor_size=0, progress=False, callback=report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
