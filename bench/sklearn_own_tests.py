"""scikit-learn's own RBM tests, run against ``xprbm.sklearn.BernoulliRBM``.

    python bench/sklearn_own_tests.py

Copies the installed scikit-learn's ``neural_network/tests/test_rbm.py`` into a temporary
folder, swaps its import of ``BernoulliRBM`` for xprbm's, runs it with pytest and prints each
test's outcome. Nothing of scikit-learn's is stored in this repository.

Then it repeats the check of ``test_convergence_dtype_consistency`` that xprbm fails (float32
and float64 runs agree on ``intercept_visible_`` to a relative 1e-5, no absolute tolerance)
for ``random_state`` 0-19, with scikit-learn's class and with xprbm's: entries near zero that
built up over 100 float32 updates miss that tolerance for some seeds with either, so the test
passes or fails by its random sequence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL = "from sklearn.neural_network import BernoulliRBM"
SWAPPED = "from xprbm.sklearn import BernoulliRBM"


def main() -> int:
    import sklearn

    source = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_rbm.py"
    text = source.read_text()
    if ORIGINAL not in text:
        print(f"{source} no longer imports BernoulliRBM as expected", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "test_rbm_swapped.py"
        target.write_text(text.replace(ORIGINAL, SWAPPED))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
             "--rootdir", folder, "-o", "addopts=", str(target)],
            capture_output=True, text=True, cwd=folder,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    outcomes = re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\S+)", result.stdout, re.MULTILINE)
    print(f"scikit-learn {sklearn.__version__}: {source.name} with the import swapped\n")
    print("| test | outcome |")
    print("|---|---|")
    for outcome, name in outcomes:
        print(f"| {name} | {outcome.lower()} |")
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    print(f"\n{summary}\n")
    for name in ("scikit-learn", "xprbm"):
        failing = dtype_consistency_failures(name, range(20))
        print(f"{name}: random_state values (of 0-19) failing the intercept_visible_ check of "
              f"test_convergence_dtype_consistency: {failing or 'none'}")
    return 0


def dtype_consistency_failures(name: str, seeds: range) -> list[int]:
    """Seeds for which float32 and float64 fits (16 components, batch 5, 5 iterations, the
    first 100 scaled digits, as in the test) differ in ``intercept_visible_`` by more than a
    relative 1e-5."""
    from sklearn.datasets import load_digits

    if name == "xprbm":
        from xprbm.sklearn import BernoulliRBM
    else:
        from sklearn.neural_network import BernoulliRBM
    X = load_digits().data
    X = ((X - X.min()) / (X.max() - X.min()))[:100]
    failing = []
    for seed in seeds:
        fits = [BernoulliRBM(n_components=16, batch_size=5, n_iter=5, random_state=seed).fit(
            X.astype(dtype)) for dtype in (np.float64, np.float32)]
        if not np.allclose(fits[1].intercept_visible_, fits[0].intercept_visible_, rtol=1e-5,
                           atol=0):
            failing.append(seed)
    return failing


if __name__ == "__main__":
    raise SystemExit(main())
