"""What does a 784x500 model of the demo generate? Sample quality of training settings.

For each setting it trains a 784x500 RBM on the 4000 training digits of the fair split
(``mnist_5k(split="train")``: 400 of each class), then labels generated digits with the
digit classifier of ``bench/sample_quality.py``:

- 100 samples by parallel tempering from uniformly random states (the demo's sampler and
  ladder, 500 sweeps): what the demo's picture shows;
- 100 samples by plain block Gibbs from random states after ``--gibbs-steps`` steps (default
  10,000): whether the model itself covers the digits, not only the sampler.

Each row reports classes holding at least 3% of the samples and the class entropy in bits
(at most 3.32). The first row is the demo's settings (``xprbm.cli.DEMO_SETTINGS``).

Usage::

    python bench/demo_quality.py                 # the demo's settings and the alternatives
    python bench/demo_quality.py --only-demo     # the demo's settings alone
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# measure the checkout this script belongs to, not whatever xprbm is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sample_quality import class_report  # noqa: E402

import xprbm  # noqa: E402
from xprbm.cli import DEMO_SAMPLE_STEPS, DEMO_SETTINGS  # noqa: E402
from xprbm.datasets import mnist_5k  # noqa: E402
from xprbm.rng import CounterRNG  # noqa: E402

MODEL = ("hidden", "epochs")
TRAINING = {k: v for k, v in DEMO_SETTINGS.items() if k not in MODEL}
#: (name, changes to the demo's settings)
ALTERNATIVES = (
    ("demo settings", {}),
    ("not centred", {"centered": False}),
    ("constant rate 0.01", {"learning_rate_schedule": "constant", "final_learning_rate": None}),
    ("momentum 0.9", {"momentum": 0.9}),
    ("parallel tempering training (10 chains x 10 temperatures)",
     {"method": "pt", "n_chains": 10}),
)


def evaluate(name: str, changes: dict, X: np.ndarray, args: argparse.Namespace) -> str:
    settings = {**TRAINING, **changes}
    rbm = xprbm.RBM(784, DEMO_SETTINGS["hidden"], seed=args.seed)
    start = time.perf_counter()
    rbm.fit(X, epochs=DEMO_SETTINGS["epochs"], progress=False, monitor_size=0, **settings)
    seconds = time.perf_counter() - start
    pictures = CounterRNG.from_seed(args.seed, "pictures")
    tempered = rbm.tempered_sample(100, DEMO_SAMPLE_STEPS, seed=pictures)
    gibbs = rbm.sample(100, args.gibbs_steps, seed=CounterRNG.from_seed(args.seed, "pictures"))
    host = rbm.array_backend.to_numpy
    pt_report, gibbs_report = class_report(host(tempered.samples)), class_report(host(gibbs))
    return (f"| {name} | {pt_report.covered} | {pt_report.entropy_bits:.2f} | "
            f"{gibbs_report.covered} | {gibbs_report.entropy_bits:.2f} | "
            f"{np.nanmin(tempered.swap_rates):.2f} | {seconds:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gibbs-steps", type=int, default=10_000)
    parser.add_argument("--only-demo", action="store_true")
    args = parser.parse_args(argv)
    X, _ = mnist_5k(split="train")
    settings = ", ".join(f"{k}={v}" for k, v in DEMO_SETTINGS.items())
    print(f"## Sample quality of 784x{DEMO_SETTINGS['hidden']} models (seed {args.seed})\n")
    print(f"Demo settings: {settings}. PT: {DEMO_SAMPLE_STEPS} sweeps, default ladder; "
          f"Gibbs: {args.gibbs_steps} steps; both from uniformly random states.\n")
    print("| setting | PT classes >= 3% | PT entropy (bits) | Gibbs classes >= 3% | "
          "Gibbs entropy (bits) | lowest swap rate | train s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, changes in ALTERNATIVES[:1] if args.only_demo else ALTERNATIVES:
        print(evaluate(name, changes, X, args), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
