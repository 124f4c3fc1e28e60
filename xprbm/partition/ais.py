"""Annealed importance sampling (AIS) of ``log Z``, forward and reverse, with bounds, and
both directions at once (:func:`ais_bracket`).

The path and its transitions live in :mod:`.path`, the schedules and the defaults chosen by
model size in :mod:`.schedule`, the interval, effective sample size and warning in
:mod:`.reliability`.

Forward AIS starts from exact samples of the base-rate model and estimates ``Z`` without
bias, so its ``log Z`` is a stochastic lower bound. Reverse AIS starts from samples of the
RBM and estimates ``1 / Z`` without bias, a stochastic upper bound, but only if those
samples are at equilibrium: rows of the training data and short Gibbs chains are not, and
pull the "upper bound" below the truth on large models. Its default start is therefore
parallel tempering (:func:`xprbm.sampling.parallel_tempering`), which crosses between the
model's modes far better than plain Gibbs sampling.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import single_thread_blas_if_small
from ..kernels import generic
from ..progress import progress_bar
from ..rng import CounterRNG, seed_to_key
from ..sampling import parallel_tempering
from ..validation import check_int, check_positive_int
from .path import AnnealingPath
from .reliability import (
    AGREEMENT_NATS,
    N_STDERR,
    AISReliabilityWarning,
    advice,
    log_mean_exp_interval,
    reliability_problems,
)
from .schedule import (
    DEFAULT_N_BETAS,
    DEFAULT_SEGMENTS,
    SCHEDULES,
    AISDefaults,
    ais_defaults,
    ais_schedule,
    check_betas,
    even_variance_schedule,
)

if TYPE_CHECKING:
    from ..rbm import RBM

__all__ = [
    "DEFAULT_N_BETAS",
    "DEFAULT_SEGMENTS",
    "N_STDERR",
    "AISBracket",
    "AISResult",
    "ais",
    "ais_bracket",
    "blas_threads_for",
    "log_mean_exp_interval",
    "tuned_schedule",
]

#: data means are clipped to [eps, 1 - eps] before the log-odds of the base-rate biases
BASE_MEAN_EPS = 1e-3
#: Gibbs steps of the RBM before reverse AIS started by ``start="gibbs"``
DEFAULT_BURN_IN = 10_000
BASES = ("data", None)
#: where reverse AIS takes its starting states from
STARTS = ("auto", "tempering", "data", "gibbs")


class _Verdict:
    """``reliable`` and ``warning_message`` of a result from its ``problems`` (a list of
    reasons not to trust it) and its ``_warning(problems)`` text."""

    problems: list[str]

    @property
    def reliable(self) -> bool:
        """Whether nothing is wrong (:attr:`problems` is empty)."""
        return not self.problems

    def warning_message(self) -> str:
        """The text of the :class:`AISReliabilityWarning` this deserves ("" if none)."""
        problems = self.problems
        return self._warning(problems) if problems else ""

    def _warning(self, problems: list[str]) -> str:
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class AISResult(_Verdict):
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
        Wall time of the whole run (pilot run and burn-in included).
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
        Steps of the starting sampler before reverse annealing: parallel-tempering sweeps
        or Gibbs steps (0 for forward AIS).
    schedule : {"segments", "tuned", "given"}
        How the temperatures were placed.
    start : {"base", "tempering", "data", "gibbs"}
        Where the chains started: the base-rate model (forward AIS), or for reverse AIS
        parallel tempering, rows of ``data``, or Gibbs chains from the base-rate model.
    start_note : str
        One line on the starting sampler (the swap rates of parallel tempering).
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
    schedule: str = "given"
    start: str = "base"
    start_note: str = ""

    def __float__(self) -> float:
        return self.log_z

    @property
    def n_steps(self) -> int:
        """Number of annealing steps (``len(betas) - 1``)."""
        return int(self.betas.shape[0]) - 1

    @property
    def direction(self) -> str:
        """``"forward"`` or ``"reverse"``."""
        return "reverse" if self.reverse else "forward"

    @property
    def problems(self) -> list[str]:
        """Why the bounds cannot be trusted (see
        :func:`xprbm.partition.reliability.reliability_problems`); empty when none."""
        return reliability_problems(self.ess, self.n_chains, self.lower, self.upper)

    def _warning(self, problems: list[str]) -> str:
        return (f"{self.direction} AIS bounds are not trustworthy: {'; '.join(problems)}. "
                f"Its estimate log Z = {self.log_z:.2f} may be off by more than the interval "
                f"says; {advice(self.n_chains, self.n_steps)}.")

    def summary(self) -> str:
        """One line: estimate, interval, ESS, steps and seconds."""
        return (f"{self.direction} AIS: log Z {self.log_z:.4f} [{self.lower:.4f}, "
                f"{self.upper:.4f}], ESS {self.ess:.1f} of {self.n_chains} chains, "
                f"{self.n_steps} steps ({self.schedule}), {self.seconds:.1f} s")


@dataclass(frozen=True, eq=False)
class AISBracket(_Verdict):
    """Forward and reverse AIS of one model (:func:`ais_bracket`); ``float(b)`` is ``log_z``.

    Attributes
    ----------
    forward, reverse : AISResult
    seconds : float
        Wall time of both runs and the shared pilot run.
    tolerance : float
        Largest ``|gap|`` in nats at which the two directions agree.
    """

    forward: AISResult
    reverse: AISResult
    seconds: float
    tolerance: float = AGREEMENT_NATS

    def __float__(self) -> float:
        return self.log_z

    @property
    def gap(self) -> float:
        """``reverse.log_z - forward.log_z``: positive when they bracket ``log Z`` in the
        expected order (forward below, reverse above)."""
        return self.reverse.log_z - self.forward.log_z

    @property
    def agree(self) -> bool:
        """Whether ``|gap| <= tolerance``."""
        return abs(self.gap) <= self.tolerance

    @property
    def log_z(self) -> float:
        """Midpoint of the two estimates."""
        return 0.5 * (self.forward.log_z + self.reverse.log_z)

    @property
    def lower(self) -> float:
        """Smallest end of either interval."""
        return min(self.forward.lower, self.reverse.lower)

    @property
    def upper(self) -> float:
        """Largest end of either interval."""
        return max(self.forward.upper, self.reverse.upper)

    @property
    def problems(self) -> list[str]:
        """Every reason not to trust the bracket; empty when none."""
        out = [f"{r.direction}: {p}" for r in (self.forward, self.reverse) for p in r.problems]
        if not self.agree:
            out.append(f"forward and reverse estimates differ by {abs(self.gap):.2f} nats "
                       f"(agreement needs <= {self.tolerance:g})")
        if self.gap < -self.tolerance:
            out.append("reverse lies below forward, so its starting states were probably "
                       "not samples of the model (more tempering sweeps: burn_in=)")
        return out

    def _warning(self, problems: list[str]) -> str:
        todo = advice(self.forward.n_chains, self.forward.n_steps)
        return (f"AIS bounds are not trustworthy: {'; '.join(problems)}. "
                f"{todo[0].upper()}{todo[1:]}.")


def blas_threads_for(rbm: RBM, n_rows: int) -> contextlib.AbstractContextManager:
    """One BLAS thread while ``(n_rows, n_visible) @ (n_visible, n_hidden)`` products are small
    (see :func:`xprbm.backend.single_thread_blas_if_small`)."""
    return single_thread_blas_if_small(rbm.backend, n_rows * rbm.n_visible * rbm.n_hidden)


# ------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class _Plan:
    """The checked settings of one call (shared by both directions of a bracket)."""

    n_chains: int
    n_betas: int
    betas: np.ndarray | None  # None until a tuned schedule is placed
    schedule: str
    start: str
    burn_in: int | None  # None: the start's default
    pilot_chains: int
    pilot_betas: int
    defaults: AISDefaults


def _plan(rbm: RBM, n_chains: Any, n_betas: Any, betas: Any, schedule: Any, base: Any,
          start: Any, burn_in: Any) -> _Plan:
    defaults = ais_defaults(rbm.n_visible, rbm.n_hidden)
    n_chains = defaults.n_chains if n_chains is None else check_positive_int(n_chains,
                                                                             "n_chains")
    if base not in BASES:
        raise ValueError(f"base must be 'data' or None; got {base!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}; got {start!r}")
    if burn_in is not None:
        burn_in = check_int(burn_in, "burn_in", 0)
    if betas is not None:
        if n_betas is not None:
            raise ValueError("pass either n_betas or betas, not both")
        if schedule != "auto":
            raise ValueError(f"schedule={schedule!r} places its own temperatures; pass it or "
                             "betas, not both")
        arr = check_betas(betas)
        name, n = "given", arr.shape[0] - 1
    else:
        n = defaults.n_betas if n_betas is None else check_positive_int(n_betas, "n_betas")
        name = defaults.schedule if schedule == "auto" else schedule
        arr = ais_schedule(n) if name == "segments" else None
    pilot_betas = max(len(DEFAULT_SEGMENTS), min(defaults.pilot_betas, n))
    return _Plan(n_chains, n, arr, name, "tempering" if start == "auto" else start, burn_in,
                 defaults.pilot_chains, pilot_betas, defaults)


def _burn_in(plan: _Plan) -> int:
    if plan.burn_in is not None:
        return plan.burn_in
    return {"tempering": plan.defaults.tempering_sweeps, "data": 0,
            "gibbs": DEFAULT_BURN_IN}[plan.start]


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


# ---------------------------------------------------------------------------------- runs
def _pilot(rbm: RBM, base_bias: Any, n_betas: int, pilot_chains: int, pilot_betas: int,
           seed: int, progress: bool) -> np.ndarray:
    """A forward run of ``pilot_chains`` chains over ``ais_schedule(pilot_betas)`` (stream
    ``"ais_pilot"``), whose per-step increment variances place ``n_betas`` steps."""
    path = AnnealingPath(rbm, base_bias, CounterRNG.from_seed(seed, "ais_pilot"))
    betas = ais_schedule(pilot_betas)
    increments: list = []
    with blas_threads_for(rbm, pilot_chains), progress_bar(
            total=pilot_betas, enabled=progress, desc="AIS pilot", unit="step") as bar:
        path.anneal(path.sample_base(pilot_chains), betas, bar, increments)
    xp = rbm.xp
    var = xp.var(xp.stack(increments), axis=1)
    return even_variance_schedule(betas, np.asarray(rbm.array_backend.to_numpy(var)), n_betas)


def _reverse_start(rbm: RBM, path: AnnealingPath, plan: _Plan, data: Any, steps: int,
                   progress: bool) -> tuple[Any, str]:
    """Starting states of reverse AIS, shape (n_chains, n_visible), and a note on them."""
    n_chains = plan.n_chains
    if plan.start == "tempering":
        pt = parallel_tempering(rbm, n_chains, steps, path.rng,
                                init=path.sample_base(n_chains), progress=progress)
        return pt.samples, f"{pt.summary()}; {steps} sweeps"
    if plan.start == "data":
        v = _start_from_data(rbm, data, n_chains, path.rng)
        note = f"rows of data, then {steps} Gibbs steps"
    else:
        v = path.sample_base(n_chains)
        note = f"{steps} Gibbs steps from the base-rate model"
    with progress_bar(total=steps, enabled=progress and steps > 0, desc="gibbs",
                      unit="step") as bar:
        return path.gibbs(v, steps, bar), note


def _anneal(rbm: RBM, plan: _Plan, betas: np.ndarray, base_bias: Any, base_used: str,
            data: Any, seed: int, reverse: bool, progress: bool, started: float) -> AISResult:
    """One run along ``betas`` (forward, or reverse from ``plan.start``)."""
    rng = (CounterRNG.from_seed(seed, "ais_reverse") if reverse
           else CounterRNG.from_seed(seed, "ais"))
    path = AnnealingPath(rbm, base_bias, rng)
    steps, start, note = 0, "base", ""
    with blas_threads_for(rbm, plan.n_chains):
        if reverse:
            steps, start = _burn_in(plan), plan.start
            v, note = _reverse_start(rbm, path, plan, data, steps, progress)
            order = betas[::-1]
        else:
            v, order = path.sample_base(plan.n_chains), betas
        with progress_bar(total=order.shape[0] - 1, enabled=progress,
                          desc="reverse AIS" if reverse else "AIS", unit="step") as bar:
            log_w = path.anneal(v, order, bar)
    log_w = np.asarray(rbm.array_backend.to_numpy(log_w), dtype=np.float64)
    seconds = time.perf_counter() - started
    log_mean, log_lo, log_hi, ess = log_mean_exp_interval(log_w)
    log_z0 = path.log_z_base()
    if reverse:
        estimate, lower, upper = log_z0 - log_mean, log_z0 - log_hi, log_z0 - log_lo
    else:
        estimate, lower, upper = log_z0 + log_mean, log_z0 + log_lo, log_z0 + log_hi
    return AISResult(log_z=estimate, lower=lower, upper=upper, ess=ess,
                     n_chains=plan.n_chains, betas=betas, seconds=seconds,
                     reverse=bool(reverse), log_weights=log_w, log_z_base=log_z0,
                     base=base_used, seed=seed, burn_in=steps, schedule=plan.schedule,
                     start=start, start_note=note)


def _prepare(rbm: RBM, data: Any, base: Any, seed: Any, plan: _Plan, reverse: bool,
             progress: bool) -> tuple[Any, Any, str, int, np.ndarray]:
    """Checked data, base-rate biases, the seed and the schedule (placing a tuned one)."""
    if data is not None:
        data = rbm.visible(data, name="data", binary=True)
    if reverse and plan.start == "data" and data is None:
        raise ValueError("start='data' needs data (rows to start reverse AIS from)")
    seed, _ = seed_to_key(seed)
    base_bias, base_used = _base_bias(rbm, data, base)
    betas = plan.betas
    if betas is None:
        betas = _pilot(rbm, base_bias, plan.n_betas, plan.pilot_chains, plan.pilot_betas,
                       seed, progress)
    return data, base_bias, base_used, seed, betas


def _check_reverse(reverse: Any) -> None:
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(f"reverse must be True or False; got {reverse!r}")


def ais(
    rbm: RBM,
    *,
    n_chains: int | None = None,
    n_betas: int | None = None,
    betas: Any = None,
    schedule: str = "auto",
    base: str | None = "data",
    data: Any = None,
    seed: int | None = None,
    reverse: bool = False,
    start: str = "auto",
    burn_in: int | None = None,
    progress: bool = True,
) -> AISResult:
    """Estimate ``log Z`` of an RBM by annealed importance sampling, with an interval.

    All chains run at once as matrix operations on the model's backend (float32 models
    sample in float32; the log weights accumulate in float64). Same seed, same backend and
    kernels: same result. Warns with :class:`AISReliabilityWarning` when the effective
    sample size is below 10% of the chains (or 10), or an end of the interval is infinite.

    Parameters
    ----------
    rbm : RBM
    n_chains : int, optional
        Independent annealing runs (rows of the state matrix); default by model size
        (:func:`xprbm.partition.ais_defaults`: 100).
    n_betas : int, optional
        Number of annealing steps; default by model size: 14,500 up to 784 x 64 weights,
        20,000 above.
    betas : array_like, shape (K + 1,), optional
        An explicit schedule, non-decreasing from 0.0 to 1.0.
    schedule : {"auto", "segments", "tuned"}
        How to place ``n_betas`` steps: ``"segments"``, the three-segment shape of
        Salakhutdinov & Murray (:func:`ais_schedule`); ``"tuned"``, placed by a short pilot
        run (20 chains, up to 2,000 steps, its own random stream ``"ais_pilot"``) so that
        every step adds the same variance to the log weights
        (:func:`xprbm.partition.schedule.even_variance_schedule`); ``"auto"``, by model size
        (:func:`xprbm.partition.ais_defaults`: segments at every size for now).
    base : {"data", None}
        Base-rate model at β = 0: ``"data"`` gives it visible biases ``log(p / (1 - p))`` of
        the clipped (``[1e-3, 1 - 1e-3]``) means ``p`` of ``data``; ``None``, or ``"data"``
        without ``data``, gives zero biases (the uniform distribution). The result's ``base``
        says which was used. A base close to the data makes the estimate far more accurate.
    data : array, shape (n, n_visible), binary, optional
        Training rows: base-rate biases and, with ``start="data"``, reverse AIS's starting
        states.
    seed : int, optional
        Seed of the run's random streams; fresh entropy when omitted (recorded in the result).
        Forward runs draw from the stream ``"ais"``, reverse runs from ``"ais_reverse"``, the
        pilot of a tuned schedule from ``"ais_pilot"``.
    reverse : bool
        ``False``: forward AIS from the base model to the RBM. Its estimate of ``Z`` is
        unbiased, so ``log_z`` *under*-estimates ``log Z`` in expectation (Jensen) and rarely
        exceeds it by much: a stochastic lower bound. ``True``: reverse AIS, from states of
        the RBM back to the base model, which estimates ``1 / Z`` without bias, so its
        ``log_z`` *over*-estimates ``log Z`` in expectation: a stochastic upper bound, provided
        the starting states are samples of the RBM. A forward and a reverse run that agree
        bracket ``log Z`` from both sides (:func:`ais_bracket` runs both).
    start : {"auto", "tempering", "data", "gibbs"}
        Starting states of reverse AIS: ``"tempering"`` (and ``"auto"``), the β = 1 replicas
        of parallel tempering (the default ladder of 10 temperatures down to β = 0.5) started
        from the base-rate model; ``"data"``, rows of ``data``; ``"gibbs"``, Gibbs chains of
        the RBM started from the base-rate model. Ignored by forward AIS.
    burn_in : int, optional
        Steps of the starting sampler: parallel-tempering sweeps (default by model size:
        1,000, or 500 above 784 x 64 weights), Gibbs steps after the data rows (default 0)
        or from the base model (default ``DEFAULT_BURN_IN``, 10,000). Ignored by forward AIS.
    progress : bool
        Show progress bars (pilot, tempering, annealing).

    Returns
    -------
    AISResult
        ``log_z``, ``lower``, ``upper`` (± 3 standard errors of the mean importance weight,
        mapped to ``log Z``), ``ess``, ``n_chains``, ``betas``, ``seconds``, ``reliable``
        and more.

    Raises
    ------
    ValueError, TypeError
        Bad ``n_chains``, ``n_betas``, ``betas``, ``schedule``, ``base``, ``start``,
        ``burn_in``, or ``data`` of the wrong width, empty or not binary.

    Warns
    -----
    AISReliabilityWarning
        When :attr:`AISResult.reliable` is False; the message says why and what to change.

    Notes
    -----
    Forward AIS with weights ``w`` gives ``log Ẑ = log Z_0 + log mean(w)``; reverse AIS gives
    ``log Ẑ = log Z_0 - log mean(w)``. The interval is ``log(mean ± 3 se)`` of the weights
    (Salakhutdinov & Murray, 2008, "On the quantitative analysis of deep belief networks").
    """
    _check_reverse(reverse)
    plan = _plan(rbm, n_chains, n_betas, betas, schedule, base, start, burn_in)
    started = time.perf_counter()
    data, base_bias, base_used, seed, schedule_betas = _prepare(rbm, data, base, seed, plan,
                                                                bool(reverse), progress)
    result = _anneal(rbm, plan, schedule_betas, base_bias, base_used, data, seed,
                     bool(reverse), progress, started)
    if not result.reliable:
        warnings.warn(result.warning_message(), AISReliabilityWarning, stacklevel=2)
    return result


def ais_bracket(
    rbm: RBM,
    *,
    n_chains: int | None = None,
    n_betas: int | None = None,
    betas: Any = None,
    schedule: str = "auto",
    base: str | None = "data",
    data: Any = None,
    seed: int | None = None,
    start: str = "auto",
    burn_in: int | None = None,
    tolerance: float = AGREEMENT_NATS,
    progress: bool = True,
) -> AISBracket:
    """Forward and reverse AIS of one model over one schedule: ``log Z`` from both sides.

    The options are those of :func:`ais` (a tuned schedule is placed once, by one pilot run,
    and used by both directions). Forward AIS is a stochastic lower bound of ``log Z`` and
    reverse AIS, started from parallel tempering, a stochastic upper bound; when the two
    agree within ``tolerance`` nats and both have a healthy effective sample size, the
    bracket can be trusted.

    Parameters
    ----------
    tolerance : float
        Largest ``|reverse.log_z - forward.log_z|`` in nats at which the two agree (1.0).

    Returns
    -------
    AISBracket
        ``forward``, ``reverse``, ``gap``, ``agree``, ``log_z`` (the midpoint), ``lower`` and
        ``upper`` (the outer ends of both intervals), ``reliable``, ``seconds``.

    Warns
    -----
    AISReliabilityWarning
        Once, when either run is unreliable or the two disagree; the message lists why.
    """
    tolerance = float(tolerance)
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise ValueError(f"tolerance must be a positive number of nats; got {tolerance}")
    plan = _plan(rbm, n_chains, n_betas, betas, schedule, base, start, burn_in)
    started = time.perf_counter()
    data, base_bias, base_used, seed, schedule_betas = _prepare(rbm, data, base, seed, plan,
                                                                True, progress)
    forward = _anneal(rbm, plan, schedule_betas, base_bias, base_used, data, seed, False,
                      progress, started)
    reverse = _anneal(rbm, plan, schedule_betas, base_bias, base_used, data, seed, True,
                      progress, time.perf_counter())
    bracket = AISBracket(forward, reverse, time.perf_counter() - started, tolerance)
    if not bracket.reliable:
        warnings.warn(bracket.warning_message(), AISReliabilityWarning, stacklevel=2)
    return bracket


def tuned_schedule(rbm: RBM, n_betas: int, *, data: Any = None, base: str | None = "data",
                   pilot_chains: int = 20, pilot_betas: int = 2000, seed: int | None = None,
                   progress: bool = False) -> np.ndarray:
    """Place ``n_betas`` annealing steps by a short forward pilot run (what
    ``ais(..., schedule="tuned")`` does).

    Parameters
    ----------
    rbm : RBM
    n_betas : int
        Steps of the schedule to place.
    data, base : as for :func:`ais`
        The base-rate model of the path.
    pilot_chains : int
        Chains of the pilot run (20).
    pilot_betas : int
        Steps of the pilot run, on the three-segment schedule (2,000; at least 3).
    seed : int, optional
        Seed; the pilot draws from its own stream ``"ais_pilot"``.
    progress : bool

    Returns
    -------
    ndarray, shape (n_betas + 1,), float64
        From 0.0 to 1.0, each step with the same predicted variance of the log weights.
    """
    n_betas = check_positive_int(n_betas, "n_betas")
    pilot_chains = check_positive_int(pilot_chains, "pilot_chains")
    pilot_betas = check_int(pilot_betas, "pilot_betas", len(DEFAULT_SEGMENTS))
    if pilot_chains < 2:
        raise ValueError("pilot_chains must be at least 2 (a variance needs two chains)")
    if base not in BASES:
        raise ValueError(f"base must be 'data' or None; got {base!r}")
    if data is not None:
        data = rbm.visible(data, name="data", binary=True)
    seed, _ = seed_to_key(seed)
    base_bias, _ = _base_bias(rbm, data, base)
    return _pilot(rbm, base_bias, n_betas, pilot_chains, pilot_betas, seed, progress)
