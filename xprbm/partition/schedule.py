"""AIS schedules: the fixed three-segment shape, one tuned by a pilot run, and the default
settings chosen by the size of the model.

A schedule is the sequence of inverse temperatures ``0 = β_0 <= β_1 <= ... <= β_K = 1``.
With transitions that keep every intermediate model at equilibrium, the variance of a
chain's log weight is about ``Σ_k Var(Δ_k)``, where ``Δ_k`` is its increment at step ``k``,
``Δ_k ≈ (β_k - β_{k-1}) f_β(v)`` with ``f_β(v) = d log p*_β(v) / dβ``. For ``K`` steps this
sum is smallest when every step contributes the same variance: steps of
``Δβ ∝ 1 / sd_β(f)``, the "thermodynamic length" ``L = ∫ sd_β(f) dβ`` cut into ``K`` equal
pieces, which leaves ``Var(log w) ≈ L² / K``. :func:`even_variance_schedule` places the
temperatures that way from the per-step increment variances of a short pilot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..validation import check_positive_int

#: default schedule of Salakhutdinov & Murray (2008): (end of segment, steps in it)
DEFAULT_SEGMENTS = ((0.5, 500), (0.9, 4000), (1.0, 10000))
#: annealing steps of the default schedule (500 + 4000 + 10000)
DEFAULT_N_BETAS = sum(steps for _, steps in DEFAULT_SEGMENTS)
#: schedules :func:`xprbm.ais` knows by name
SCHEDULES = ("auto", "segments", "tuned")
#: models with more weights than this (``n_visible * n_hidden``) are "large": 784 x 64
LARGE_MODEL_WEIGHTS = 784 * 64
#: a step's share of the thermodynamic length is at least this fraction of the mean share,
#: so that no stretch of the path is left without temperatures where the pilot saw no spread
MIN_SHARE = 0.05


@dataclass(frozen=True)
class AISDefaults:
    """Settings :func:`xprbm.ais` uses for a model when the caller passes none.

    Attributes
    ----------
    n_chains : int
        Annealing runs.
    n_betas : int
        Annealing steps.
    schedule : {"segments", "tuned"}
        Shape of the schedule (:func:`ais_schedule`, or placed by a pilot run).
    pilot_chains, pilot_betas : int
        Size of the pilot run of a tuned schedule.
    tempering_sweeps : int
        Parallel-tempering sweeps that draw the starting states of reverse AIS.
    size : {"small", "large"}
        The size class that chose these settings.
    """

    n_chains: int
    n_betas: int
    schedule: str
    pilot_chains: int
    pilot_betas: int
    tempering_sweeps: int
    size: str


#: small models: today's schedule of Salakhutdinov & Murray, 100 chains
SMALL_DEFAULTS = AISDefaults(n_chains=100, n_betas=DEFAULT_N_BETAS, schedule="segments",
                             pilot_chains=20, pilot_betas=2000, tempering_sweeps=1000,
                             size="small")
#: large models (784 x 256, 784 x 500 and the like): more steps of the same shape (a tuned
#: schedule spread the log weights no less than the three segments on 784 x 500 MNIST models,
#: see bench/results/ais-784x500.md), fewer tempering sweeps (each sweeps 10 replicas)
LARGE_DEFAULTS = AISDefaults(n_chains=100, n_betas=20_000, schedule="segments",
                             pilot_chains=20, pilot_betas=2000, tempering_sweeps=500,
                             size="large")


def ais_defaults(n_visible: int, n_hidden: int) -> AISDefaults:
    """Default AIS settings for a model of ``n_visible`` x ``n_hidden`` units.

    Models of at most :data:`LARGE_MODEL_WEIGHTS` (784 x 64) weights keep the 14,500-step
    three-segment schedule, 100 chains and 1,000 tempering sweeps before reverse AIS, which
    bracket ``log Z`` to a few hundredths of a nat on 784 x 16 MNIST models. Larger ones get
    20,000 steps of the same shape and 500 sweeps: on the 784 x 256 demo model and on a
    784 x 500 model trained with its recipe both directions keep an effective sample size
    near 90 of 100 and agree within 0.05 nats, in under a minute each on one core (see
    ``bench/results/ais-784x256.md`` and ``ais-784x500.md``).

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes, at least 1.

    Returns
    -------
    AISDefaults
    """
    n_visible = check_positive_int(n_visible, "n_visible")
    n_hidden = check_positive_int(n_hidden, "n_hidden")
    return SMALL_DEFAULTS if n_visible * n_hidden <= LARGE_MODEL_WEIGHTS else LARGE_DEFAULTS


def ais_schedule(n_betas: int = DEFAULT_N_BETAS) -> np.ndarray:
    """Inverse temperatures shaped like Salakhutdinov & Murray's (2008) schedule.

    The default, ``n_betas=14500``, takes steps of 1e-3 up to 0.5, 1e-4 up to 0.9 and 1e-5 up
    to 1. Other values keep the same three segments with the steps shared in the same
    proportions (at least one step per segment).

    Parameters
    ----------
    n_betas : int
        Number of annealing steps (intermediate inverse temperatures), at least 3.

    Returns
    -------
    ndarray, shape (n_betas + 1,), float64
        Increasing from exactly 0.0 to exactly 1.0.
    """
    n_betas = check_positive_int(n_betas, "n_betas")
    if n_betas < len(DEFAULT_SEGMENTS):
        raise ValueError(f"n_betas must be at least {len(DEFAULT_SEGMENTS)}; got {n_betas}")
    fractions = [steps / DEFAULT_N_BETAS for _, steps in DEFAULT_SEGMENTS]
    counts = [max(1, round(f * n_betas)) for f in fractions[:-1]]
    counts.append(n_betas - sum(counts))
    pieces, start = [], 0.0
    for (end, _), count in zip(DEFAULT_SEGMENTS, counts, strict=True):
        pieces.append(np.linspace(start, end, count + 1)[:-1])
        start = end
    pieces.append(np.array([1.0]))
    return np.concatenate(pieces)


def even_variance_schedule(pilot_betas: Any, increment_var: Any, n_betas: int) -> np.ndarray:
    """A schedule of ``n_betas`` steps, each with the same predicted log-weight variance.

    The pilot's step ``k`` (from ``pilot_betas[k]`` to ``pilot_betas[k + 1]``) had increments
    of variance ``increment_var[k]``, so ``sqrt(increment_var[k])`` is its share of the
    thermodynamic length, spread evenly over the step. The new temperatures cut the
    cumulative length into ``n_betas`` equal parts. Shares below ``MIN_SHARE`` (5%) of the
    mean share are raised to it.

    Parameters
    ----------
    pilot_betas : array_like, shape (K + 1,)
        The pilot's schedule, increasing from 0 to 1.
    increment_var : array_like, shape (K,)
        Variance over the pilot's chains of each step's log-weight increment.
    n_betas : int
        Steps of the new schedule.

    Returns
    -------
    ndarray, shape (n_betas + 1,), float64
        Non-decreasing from exactly 0.0 to exactly 1.0.

    Raises
    ------
    ValueError
        Shapes that do not match, a pilot schedule that is not increasing from 0 to 1, or
        variances that are negative or not finite.
    """
    n_betas = check_positive_int(n_betas, "n_betas")
    betas = check_betas(pilot_betas)
    var = np.asarray(increment_var, dtype=np.float64)
    if var.shape != (betas.shape[0] - 1,):
        raise ValueError(f"increment_var must have one value per pilot step "
                         f"({betas.shape[0] - 1}); got shape {var.shape}")
    if not np.all(np.isfinite(var)) or np.any(var < 0):
        raise ValueError("increment_var must hold finite, non-negative variances")
    widths = np.diff(betas)
    share = np.sqrt(var)
    mean = float(np.mean(share)) if np.any(share > 0) else 1.0
    share = np.maximum(share, MIN_SHARE * mean)
    share[widths == 0] = 0.0  # a repeated temperature has no length
    length = np.concatenate([[0.0], np.cumsum(share)])
    targets = np.linspace(0.0, length[-1], n_betas + 1)
    out = np.interp(targets, length, betas)
    out[0], out[-1] = 0.0, 1.0
    return np.maximum.accumulate(out)


def check_betas(betas: Any) -> np.ndarray:
    """Validate a user schedule: 1-D, finite, non-decreasing, from exactly 0 to exactly 1.

    Returns
    -------
    ndarray, shape (n,), float64
        A new host array.
    """
    try:
        arr = np.array(betas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"betas must be a 1-D sequence of numbers; got {type(betas).__name__}"
                        ) from exc
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"betas must be 1-D with at least 2 values; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("betas contains NaN or infinite values")
    if arr[0] != 0.0 or arr[-1] != 1.0:
        raise ValueError(
            f"betas must start at 0.0 and end at 1.0 (reverse=True runs it backwards); "
            f"got {arr[0]:g} ... {arr[-1]:g}"
        )
    if np.any(np.diff(arr) < 0):
        raise ValueError("betas must be non-decreasing (monotone from 0 to 1)")
    return arr
