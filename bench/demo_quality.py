"""What does the demo's model generate? Sample quality of training settings.

For each setting it trains the demo's RBM (784x256) on the 4000 training digits of the fair
split
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
    python bench/demo_quality.py --seeds 0,1,2   # each setting with three seeds
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
    ("momentum 0.5", {"momentum": 0.5}),
    ("100 persistent chains (the batch size)", {"n_chains": None}),
    ("500 hidden units", {"hidden": 500}),
    ("the former demo (500 hidden, momentum 0.5, 100 chains)",
     {"hidden": 500, "momentum": 0.5, "n_chains": None}),
    ("parallel tempering training (10 chains x 10 temperatures)",
     {"method": "pt", "n_chains": 10}),
)


def evaluate(name: str, changes: dict, X: np.ndarray, seed: int, gibbs_steps: int) -> str:
    """One row: the demo's settings with ``changes``, trained and sampled with ``seed``."""
    changes = dict(changes)
    hidden = changes.pop("hidden", DEMO_SETTINGS["hidden"])
    settings = {**TRAINING, **changes}
    rbm = xprbm.RBM(784, hidden, seed=seed)
    start = time.perf_counter()
    rbm.fit(X, epochs=DEMO_SETTINGS["epochs"], progress=False, monitor_size=0, **settings)
    seconds = time.perf_counter() - start
    pictures = CounterRNG.from_seed(seed, "pictures")
    tempered = rbm.tempered_sample(100, DEMO_SAMPLE_STEPS, seed=pictures)
    gibbs = rbm.sample(100, gibbs_steps, seed=CounterRNG.from_seed(seed, "pictures"))
    host = rbm.array_backend.to_numpy
    pt_report, gibbs_report = class_report(host(tempered.samples)), class_report(host(gibbs))
    return (f"| {name} | {seed} | {pt_report.covered} | {pt_report.entropy_bits:.2f} | "
            f"{gibbs_report.covered} | {gibbs_report.entropy_bits:.2f} | "
            f"{np.nanmin(tempered.swap_rates):.2f} | {seconds:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--gibbs-steps", type=int, default=10_000)
    parser.add_argument("--only-demo", action="store_true")
    args = parser.parse_args(argv)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    X, _ = mnist_5k(split="train")
    settings = ", ".join(f"{k}={v}" for k, v in DEMO_SETTINGS.items())
    print(f"## Sample quality of the demo's model and alternatives (seeds {args.seeds})\n")
    print(f"Demo settings: {settings}. PT: {DEMO_SAMPLE_STEPS} sweeps, default ladder; "
          f"Gibbs: {args.gibbs_steps} steps; both from uniformly random states.\n")
    print("| setting | seed | PT classes >= 3% | PT entropy (bits) | Gibbs classes >= 3% | "
          "Gibbs entropy (bits) | lowest swap rate | train s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, changes in ALTERNATIVES[:1] if args.only_demo else ALTERNATIVES:
        for seed in seeds:
            print(evaluate(name, changes, X, seed, args.gibbs_steps), flush=True)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
