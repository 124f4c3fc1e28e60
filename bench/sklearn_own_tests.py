"""scikit-learn's own RBM tests, run against ``xprbm.sklearn.BernoulliRBM``.

    python bench/sklearn_own_tests.py

Copies the installed scikit-learn's ``neural_network/tests/test_rbm.py`` into a temporary
folder, swaps its import of ``BernoulliRBM`` for xprbm's, runs it with pytest and prints each
test's outcome. Nothing of scikit-learn's is stored in this repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

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
    print(f"\n{summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
