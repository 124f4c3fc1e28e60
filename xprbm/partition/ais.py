"""Annealed importance sampling (AIS) of ``log Z``, forward and reverse, with bounds.

The annealing path follows Salakhutdinov & Murray (2008). A base-rate model A of independent
visible units with biases ``a`` (clipped log-odds of data means, or zeros) and the RBM B share
the visible layer; the intermediate model at inverse temperature β has the joint energy
``E_β(v, h) = -(1 - β) v·a - β (v·b + h·c + vᵀWh)``, whose unnormalised marginal is::

    log p*_β(v) = (1 - β) v·a + β v·b + Σ_j softplus(β (c_j + (vW)_j))

At β = 0 this is model A with ``log Z_0 = Σ_i softplus(a_i) + n_hidden · log 2``; at β = 1 it
is the RBM. Its block Gibbs step (``h | v`` then ``v | h``) has the factorised conditionals
``p(h_j = 1 | v) = σ(β (c_j + (vW)_j))`` and ``p(v_i = 1 | h) = σ((1 - β) a_i + β (b_i + (Wh)_i))``
and leaves ``p_β`` invariant, so it serves as the AIS transition at β.

A chain started from ``p_{β_0}`` collects
``log w = Σ_k [log p*_{β_k}(v_k) - log p*_{β_{k-1}}(v_k)]``, where ``v_k`` is its state after
the transition at ``β_{k-1}``. Its mean weight estimates
``Z_{β_K} / Z_{β_0}``, without bias. Running the schedule backwards (from states of the RBM to
the base model) estimates ``Z_0 / Z_B`` instead: that is reverse AIS.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import kernels
from ..backend import single_thread_blas_if_small
from ..kernels import generic
from ..progress import progress_bar
from ..rng import CounterRNG, seed_to_key
from ..sampling import independent_visible
from ..validation import check_int, check_positive_int

if TYPE_CHECKING:
    from ..rbm import RBM

#: default schedule of Salakhutdinov & Murray (2008): (end of segment, steps in it)
DEFAULT_SEGMENTS = ((0.5, 500), (0.9, 4000), (1.0, 10000))
#: annealing steps of the default schedule (500 + 4000 + 10000)
DEFAULT_N_BETAS = sum(steps for _, steps in DEFAULT_SEGMENTS)
#: data means are clipped to [eps, 1 - eps] before the log-odds of the base-rate biases
BASE_MEAN_EPS = 1e-3
#: Gibbs steps of the RBM before reverse AIS when no data gives the starting states
DEFAULT_BURN_IN = 10_000
#: half-width of the reported interval in standard errors of the mean importance weight
N_STDERR = 3.0
BASES = ("data", None)
#: progress-bar updates happen every this many annealing steps
_PROGRESS_EVERY = 100


@dataclass(frozen=True, eq=False)
class AISResult:
    """Outcome of :func:`ais`; ``float(result)`` is the estimate ``log_z``.

    Attributes
    ----------
    log_z : float
        Estimate of ``log Z`` of the RBM.
    lower, upper : float
        ``log Z`` at the mean importance weight minus / plus ``N_STDERR`` (3) standard errors
        of that mean (``lower`` is ``-inf`` and, for reverse AIS, ``upper`` is ``+inf`` when
        the interval reaches zero weight). An interval for the Monte-Carlo noise only: it says
        nothing about the bias of a too-short schedule.
    ess : float
        Effective sample size ``(Σ w)² / Σ w²`` of the importance weights, in [1, n_chains].
    n_chains : int
    betas : ndarray, shape (n_steps + 1,), float64
        The schedule, increasing from 0 to 1 (reverse AIS runs it from 1 down to 0).
    seconds : float
        Wall time of the whole run (burn-in included).
    reverse : bool
        Whether this was reverse AIS.
    log_weights : ndarray, shape (n_chains,), float64
        Per-chain log importance weights: estimates of ``log(Z_B / Z_0)`` (forward) or
        ``log(Z_0 / Z_B)`` (reverse).
    log_z_base : float
        Exact ``log Z_0`` of the base-rate model.
    base : {"data", "uniform"}
        Where the base-rate biases came from.
    seed : int
        Seed of the run's random stream (the one drawn when ``seed=None`` was passed).
    burn_in : int
        RBM Gibbs steps run before reverse annealing (0 for forward AIS).
    """

    log_z: float
    lower: float
    upper: float
    ess: float
    n_chains: int
    betas: np.ndarray = field(repr=False)
    seconds: float
    reverse: bool
    log_weights: np.ndarray = field(repr=False)
    log_z_base: float
    base: str
    seed: int
    burn_in: int = 0

    def __float__(self) -> float:
        return self.log_z

    @property
    def n_steps(self) -> int:
        """Number of annealing steps (``len(betas) - 1``)."""
        return int(self.betas.shape[0]) - 1


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


class AnnealingPath:
    """The tempered models between the base-rate model (β = 0) and an RBM (β = 1).

    Parameters
    ----------
    rbm : RBM
    base_bias : array, shape (n_visible,)
        Visible biases ``a`` of the base-rate model, in the model's dtype and backend.
    rng : CounterRNG
        Stream for every draw made along the path.
    """

    def __init__(self, rbm: RBM, base_bias: Any, rng: CounterRNG) -> None:
        xp = rbm.xp
        self.rbm, self.xp, self.rng = rbm, xp, rng
        self.base_bias = base_bias
        self.n_hidden = rbm.n_hidden
        self.bias_gap = rbm.visible_bias - base_bias  # b - a
        self.hidden_bias64 = xp.astype(rbm.hidden_bias, xp.float64)

    def log_z_base(self) -> float:
        """Exact ``log Z_0 = Σ_i softplus(a_i) + n_hidden · log 2`` (float64)."""
        xp = self.xp
        a64 = xp.astype(self.base_bias, xp.float64)
        return float(xp.sum(generic.softplus(xp, a64))) + self.n_hidden * math.log(2.0)

    def fields(self, v: Any) -> tuple[Any, Any, Any]:
        """Quantities of ``v`` that every β shares.

        Parameters
        ----------
        v : array, shape (n, n_visible)

        Returns
        -------
        field : array, shape (n, n_hidden), model dtype
            ``vW`` (without the hidden bias).
        total64 : array, shape (n, n_hidden), float64
            ``c + vW``.
        tilt64 : array, shape (n,), float64
            ``v·(b - a)``.
        """
        xp = self.xp
        field = v @ self.rbm.weights
        total64 = xp.astype(field, xp.float64) + self.hidden_bias64
        tilt64 = xp.astype(v @ self.bias_gap, xp.float64)
        return field, total64, tilt64

    def log_unnormalised(self, total64: Any, tilt64: Any, beta: float) -> Any:
        """``log p*_β(v) - v·a`` (the dropped term is the same for every β), float64, (n,)."""
        xp = self.xp
        return beta * tilt64 + xp.sum(generic.softplus(xp, beta * total64), axis=1)

    def sample_hidden(self, field: Any, beta: float) -> Any:
        """``h ~ p_β(h | v)`` from ``field = vW``; shape (n, n_hidden), values 0/1."""
        rbm = self.rbm
        return kernels.bernoulli(rbm.array_backend, field * beta, rbm.hidden_bias * beta,
                                 self.rng.next_base(), rbm.fast_path)

    def sample_visible(self, h: Any, beta: float) -> Any:
        """``v ~ p_β(v | h)``; shape (n, n_visible), values 0/1."""
        rbm = self.rbm
        bias = self.base_bias * (1.0 - beta) + rbm.visible_bias * beta
        return kernels.bernoulli(rbm.array_backend, (h * beta) @ rbm.weights.T, bias,
                                 self.rng.next_base(), rbm.fast_path)

    def sample_base(self, n: int) -> Any:
        """``n`` independent draws from the base-rate model; shape (n, n_visible)."""
        return independent_visible(self.rbm, n, self.base_bias, self.rng)

    def gibbs(self, v: Any, steps: int, bar: Any) -> Any:
        """``steps`` block Gibbs steps of the RBM itself (β = 1) from ``v``."""
        for step in range(steps):
            field, _, _ = self.fields(v)
            v = self.sample_visible(self.sample_hidden(field, 1.0), 1.0)
            if (step + 1) % _PROGRESS_EVERY == 0:
                bar.update(_PROGRESS_EVERY)
        bar.update(steps % _PROGRESS_EVERY)
        return v

    def anneal(self, v: Any, betas: np.ndarray, bar: Any) -> Any:
        """Run the chains ``v`` along ``betas`` and return their log importance weights.

        Parameters
        ----------
        v : array, shape (n, n_visible)
            States drawn from ``p_{betas[0]}``.
        betas : ndarray, shape (K + 1,)
            Inverse temperatures in the order visited (increasing for forward AIS).
        bar : progress bar

        Returns
        -------
        array, shape (n,), float64
            ``log w`` estimating ``log(Z_{betas[-1]} / Z_{betas[0]})`` per chain.
        """
        xp = self.xp
        field, total64, tilt64 = self.fields(v)
        log_w = xp.zeros_like(tilt64)
        previous = self.log_unnormalised(total64, tilt64, float(betas[0]))
        n_steps = betas.shape[0] - 1
        for k in range(1, n_steps + 1):
            beta = float(betas[k])
            log_w = log_w + (self.log_unnormalised(total64, tilt64, beta) - previous)
            if k < n_steps:
                v = self.sample_visible(self.sample_hidden(field, beta), beta)
                field, total64, tilt64 = self.fields(v)
                previous = self.log_unnormalised(total64, tilt64, beta)
            if k % _PROGRESS_EVERY == 0:
                bar.update(_PROGRESS_EVERY)
        bar.update(n_steps % _PROGRESS_EVERY)
        return log_w


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


def blas_threads_for(rbm: RBM, n_rows: int) -> contextlib.AbstractContextManager:
    """One BLAS thread while ``(n_rows, n_visible) @ (n_visible, n_hidden)`` products are small
    (see :func:`xprbm.backend.single_thread_blas_if_small`)."""
    return single_thread_blas_if_small(rbm.backend, n_rows * rbm.n_visible * rbm.n_hidden)


def _base_bias(rbm: RBM, data: Any, base: str | None) -> tuple[Any, str]:
    """Base-rate visible biases (model dtype and backend) and where they came from."""
    if base == "data" and data is not None:
        return generic.clipped_log_odds(rbm.xp, data, BASE_MEAN_EPS, rbm.array_dtype), "data"
    return rbm.xp.zeros_like(rbm.visible_bias), "uniform"


def _start_from_data(rbm: RBM, data: Any, n_chains: int, rng: CounterRNG) -> Any:
    """``n_chains`` rows of ``data`` in a seeded random order (cycled when data is shorter)."""
    n = int(data.shape[0])
    order = rng.numpy_generator().permutation(n)
    rows = order[np.arange(n_chains) % n]
    return rbm.xp.take(data, rbm.array_backend.asarray(rows), axis=0)


def _check_options(n_chains: Any, n_betas: Any, betas: Any, base: Any, reverse: Any,
                   burn_in: Any) -> tuple[int, np.ndarray]:
    n_chains = check_positive_int(n_chains, "n_chains")
    if base not in BASES:
        raise ValueError(f"base must be 'data' or None; got {base!r}")
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(f"reverse must be True or False; got {reverse!r}")
    if burn_in is not None:
        check_int(burn_in, "burn_in", 0)
    if betas is not None:
        if n_betas is not None:
            raise ValueError("pass either n_betas or betas, not both")
        return n_chains, check_betas(betas)
    return n_chains, ais_schedule(DEFAULT_N_BETAS if n_betas is None else n_betas)


def ais(
    rbm: RBM,
    *,
    n_chains: int = 100,
    n_betas: int | None = None,
    betas: Any = None,
    base: str | None = "data",
    data: Any = None,
    seed: int | None = None,
    reverse: bool = False,
    burn_in: int | None = None,
    progress: bool = True,
) -> AISResult:
    """Estimate ``log Z`` of an RBM by annealed importance sampling, with an interval.

    All chains run at once as matrix operations on the model's backend (float32 models
    sample in float32; the log weights accumulate in float64). Same seed, same backend and
    kernels: same result.

    Parameters
    ----------
    rbm : RBM
    n_chains : int
        Independent annealing runs (rows of the state matrix).
    n_betas : int, optional
        Number of annealing steps of the default-shaped schedule (:func:`ais_schedule`);
        14,500 when neither this nor ``betas`` is given.
    betas : array_like, shape (K + 1,), optional
        An explicit schedule, non-decreasing from 0.0 to 1.0.
    base : {"data", None}
        Base-rate model at β = 0: ``"data"`` gives it visible biases ``log(p / (1 - p))`` of
        the clipped (``[1e-3, 1 - 1e-3]``) means ``p`` of ``data``; ``None``, or ``"data"``
        without ``data``, gives zero biases (the uniform distribution). The result's ``base``
        says which was used. A base close to the data makes the estimate far more accurate.
    data : array, shape (n, n_visible), binary, optional
        Training rows: base-rate biases and, for reverse AIS, the starting states.
    seed : int, optional
        Seed of the run's random stream; fresh entropy when omitted (recorded in the result).
    reverse : bool
        ``False``: forward AIS from the base model to the RBM. Its estimate of ``Z`` is
        unbiased, so ``log_z`` *under*-estimates ``log Z`` in expectation (Jensen) and rarely
        exceeds it by much: a stochastic lower bound. ``True``: reverse AIS, from states of
        the RBM back to the base model, which estimates ``1 / Z`` without bias, so its
        ``log_z`` *over*-estimates ``log Z`` in expectation: a stochastic upper bound, provided
        the starting states are samples of the RBM. They are rows of ``data`` (after
        ``burn_in`` Gibbs steps), or, without ``data``, the ends of Gibbs chains run for
        ``burn_in`` steps from the base model. A forward and a reverse run that agree
        bracket ``log Z`` from both sides.
    burn_in : int, optional
        RBM Gibbs steps before reverse annealing: default 0 with ``data`` (the first
        thousands of steps at β ≈ 1 already equilibrate the chains while the weights barely
        change) and ``DEFAULT_BURN_IN`` (10,000) without. Ignored by forward AIS.
    progress : bool
        Show a progress bar over the steps.

    Returns
    -------
    AISResult
        ``log_z``, ``lower``, ``upper`` (± 3 standard errors of the mean importance weight,
        mapped to ``log Z``), ``ess``, ``n_chains``, ``betas``, ``seconds`` and more.

    Raises
    ------
    ValueError, TypeError
        Bad ``n_chains``, ``n_betas``, ``betas``, ``base``, ``burn_in``, or ``data`` of the
        wrong width, empty or not binary.

    Notes
    -----
    Forward AIS with weights ``w`` gives ``log Ẑ = log Z_0 + log mean(w)``; reverse AIS gives
    ``log Ẑ = log Z_0 - log mean(w)``. The interval is ``log(mean ± 3 se)`` of the weights
    (Salakhutdinov & Murray, 2008, "On the quantitative analysis of deep belief networks").
    """
    n_chains, schedule = _check_options(n_chains, n_betas, betas, base, reverse, burn_in)
    if data is not None:
        data = rbm.visible(data, name="data", binary=True)
    seed, _ = seed_to_key(seed)
    start = time.perf_counter()
    rng = CounterRNG.from_seed(seed, "ais")
    base_bias, base_used = _base_bias(rbm, data, base)
    path = AnnealingPath(rbm, base_bias, rng)
    steps = 0
    if reverse:
        steps = burn_in if burn_in is not None else (0 if data is not None else DEFAULT_BURN_IN)
    with blas_threads_for(rbm, n_chains), progress_bar(
            total=steps + schedule.shape[0] - 1, enabled=progress,
            desc="reverse AIS" if reverse else "AIS", unit="step") as bar:
        if reverse:
            v = (_start_from_data(rbm, data, n_chains, rng) if data is not None
                 else path.sample_base(n_chains))
            v = path.gibbs(v, steps, bar)
            log_w = path.anneal(v, schedule[::-1], bar)
        else:
            log_w = path.anneal(path.sample_base(n_chains), schedule, bar)
    log_w = np.asarray(rbm.array_backend.to_numpy(log_w), dtype=np.float64)
    seconds = time.perf_counter() - start
    log_mean, log_lo, log_hi, ess = log_mean_exp_interval(log_w)
    log_z0 = path.log_z_base()
    if reverse:
        estimate, lower, upper = log_z0 - log_mean, log_z0 - log_hi, log_z0 - log_lo
    else:
        estimate, lower, upper = log_z0 + log_mean, log_z0 + log_lo, log_z0 + log_hi
    return AISResult(log_z=estimate, lower=lower, upper=upper, ess=ess, n_chains=n_chains,
                     betas=schedule, seconds=seconds, reverse=bool(reverse), log_weights=log_w,
                     log_z_base=log_z0, base=base_used, seed=seed, burn_in=steps)
