"""When AIS can be trusted: the interval of the mean importance weight, its effective sample
size, and the warning raised when either says the bounds mean little.

The interval ``log(mean(w) ± 3 se)`` rests on the spread of the weights, which a few chains
with very large weights dominate: when the effective sample size
``ESS = (Σ w)² / Σ w²`` is a handful, the standard error itself is badly estimated and the
mean is set by the rare chains that happened to reach the model's high-probability states
(or missed them), so neither the estimate nor its bounds say much.
"""

from __future__ import annotations

import math

import numpy as np

#: half-width of the reported interval in standard errors of the mean importance weight
N_STDERR = 3.0
#: an AIS run needs an effective sample size of at least this many chains ...
MIN_ESS = 10.0
#: ... and at least this fraction of its chains
MIN_ESS_FRACTION = 0.1
#: forward and reverse estimates within this many nats agree (:func:`xprbm.ais_bracket`)
AGREEMENT_NATS = 1.0


class AISReliabilityWarning(UserWarning):
    """An AIS estimate whose effective sample size is too small, or whose interval reaches
    zero weight, for its bounds to be trusted; the message says what to change."""


def log_mean_exp_interval(log_w: np.ndarray, n_stderr: float = N_STDERR
                          ) -> tuple[float, float, float, float]:
    """Log of the mean weight, of that mean ± ``n_stderr`` standard errors, and the ESS.

    All computed from ``w / max(w)`` so that no weight overflows or underflows as a whole.

    Parameters
    ----------
    log_w : ndarray, shape (n,), float64
        Log importance weights.
    n_stderr : float

    Returns
    -------
    log_mean, log_lower, log_upper, ess : float
        ``log_lower`` is ``-inf`` when ``mean - n_stderr · se <= 0``; with ``n = 1`` the
        standard error is unknown and the interval is ``(-inf, inf)``.
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    if log_w.ndim != 1 or log_w.shape[0] == 0:
        raise ValueError(f"log_w must be a non-empty 1-D array; got shape {log_w.shape}")
    top = float(np.max(log_w))
    if not math.isfinite(top):
        raise FloatingPointError(f"the largest log importance weight is {top}: the model's "
                                 "parameters are not finite or the schedule is degenerate")
    w = np.exp(log_w - top)
    n = w.shape[0]
    mean = float(np.mean(w))
    ess = float(np.sum(w) ** 2 / np.sum(w * w))
    if n < 2:
        return top + math.log(mean), -math.inf, math.inf, ess
    half = n_stderr * float(np.std(w, ddof=1)) / math.sqrt(n)
    lower = top + math.log(mean - half) if mean > half else -math.inf
    return top + math.log(mean), lower, top + math.log(mean + half), ess


def min_ess(n_chains: int) -> float:
    """The smallest trustworthy effective sample size of ``n_chains`` chains:
    ``max(MIN_ESS, MIN_ESS_FRACTION * n_chains)`` (10, or 10% of the chains if more)."""
    return max(MIN_ESS, MIN_ESS_FRACTION * n_chains)


def reliability_problems(ess: float, n_chains: int, lower: float, upper: float) -> list[str]:
    """Why an AIS run's bounds cannot be trusted; empty when nothing is wrong.

    Parameters
    ----------
    ess : float
        Effective sample size of the importance weights.
    n_chains : int
    lower, upper : float
        The run's interval for ``log Z``.

    Returns
    -------
    list of str
        Short clauses, e.g. ``"effective sample size 3.9 of 100 chains (needs >= 10)"``.
    """
    problems = []
    need = min_ess(n_chains)
    if n_chains < MIN_ESS:
        problems.append(f"only {n_chains} chain{'s' if n_chains != 1 else ''}, so the "
                        f"effective sample size ({ess:.1f}) cannot reach {MIN_ESS:g}")
    elif ess < need:
        problems.append(f"effective sample size {ess:.1f} of {n_chains} chains (needs >= "
                        f"{need:g}: 10% of the chains, at least {MIN_ESS:g})")
    if not (math.isfinite(lower) and math.isfinite(upper)):
        problems.append(f"the interval [{lower:.2f}, {upper:.2f}] reaches zero importance "
                        "weight")
    return problems


def advice(n_chains: int, n_steps: int) -> str:
    """What to change when a run is not trustworthy: with fewer than ``MIN_ESS`` chains, run
    more of them first; otherwise anneal more slowly or run more chains."""
    if n_chains < MIN_ESS:
        return (f"run at least {MIN_ESS:g} chains (n_chains= / --ais-chains; {n_chains} now), "
                "100 or more for bounds worth reading")
    return (f"anneal more slowly (n_betas= / --ais-betas above {n_steps}) or run more chains "
            f"(n_chains= / --ais-chains above {n_chains})")
