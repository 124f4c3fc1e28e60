"""AIS you can trust: defaults by model size, forward and reverse runs that bracket the exact
log Z, reverse runs started by parallel tempering, a pilot-tuned schedule, and the warning
when the effective sample size is too small for the bounds to mean anything.

Tolerances: estimates within 0.1 nats of the exact log Z (brute-force enumeration) with the
exact value inside the ±3-standard-error interval, as in ``test_partition.py``. The "bad"
settings are bad by a wide margin (2 or 30 annealing steps on models whose log weights then
spread over tens of nats), so their warnings do not hang on a seed. The suite turns an
unexpected ``AISReliabilityWarning`` into an error (``pyproject.toml``), so every run here
that is meant to be good is also checked not to warn.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from support import randomise

import xprbm
from xprbm.partition import AISReliabilityWarning, ais_defaults, schedule, tuned_schedule
from xprbm.partition.reliability import advice, min_ess, reliability_problems
from xprbm.partition.schedule import even_variance_schedule


def random_rbm(n_visible: int, n_hidden: int, std: float, seed: int) -> xprbm.RBM:
    """An RBM whose weights and biases are N(0, std²) (NumPy backend, float32)."""
    return randomise(xprbm.RBM(n_visible, n_hidden, seed=seed), scale=std, seed=seed)


def assert_close_and_bracketed(result, exact: float, tol: float = 0.1) -> None:
    summary = (f"estimate {result.log_z:.4f} in [{result.lower:.4f}, {result.upper:.4f}], "
               f"exact {exact:.4f}")
    assert abs(result.log_z - exact) < tol, summary
    assert result.lower <= exact <= result.upper, summary


# ---------------------------------------------------------------------- defaults by size
def test_defaults_by_model_size():
    small, large = ais_defaults(784, 16), ais_defaults(784, 500)
    assert (small.n_chains, small.n_betas, small.schedule) == (100, 14500, "segments")
    assert small.size == "small" and small.tempering_sweeps == 1000
    assert large.size == "large" and large.n_betas > small.n_betas
    assert large.n_chains >= small.n_chains and large.tempering_sweeps >= 100
    assert ais_defaults(784, 64).size == "small" and ais_defaults(784, 65).size == "large"
    assert ais_defaults(64, 784).size == "small"  # the product of the layers decides
    with pytest.raises(ValueError, match="n_hidden must be a positive integer"):
        ais_defaults(784, 0)


def test_ais_uses_the_defaults_of_its_size(monkeypatch):
    rbm = random_rbm(7, 5, 0.3, seed=1)
    result = xprbm.ais(rbm, seed=0, progress=False)
    assert (result.n_steps, result.n_chains, result.schedule) == (14500, 100, "segments")
    reverse = xprbm.ais(rbm, seed=0, reverse=True, progress=False)
    assert reverse.start == "tempering" and reverse.burn_in == 1000
    monkeypatch.setattr(schedule, "LARGE_MODEL_WEIGHTS", 7 * 5 - 1)  # this model is now large
    big = xprbm.partition.schedule.LARGE_DEFAULTS
    result = xprbm.ais(rbm, seed=0, reverse=True, progress=False)
    assert (result.n_steps, result.n_chains, result.burn_in) == (big.n_betas, big.n_chains,
                                                                  big.tempering_sweeps)


# ----------------------------------------------------------------- against exact log Z
def test_bracket_at_defaults_matches_exact_log_z_without_warning():
    rbm = random_rbm(64, 12, 1.0, seed=21)
    exact = xprbm.exact_log_partition(rbm)
    data = (np.random.default_rng(0).random((500, 64)) < 0.3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AISReliabilityWarning)
        bracket = xprbm.ais_bracket(rbm, data=data, seed=0, progress=False)
    assert bracket.forward.start == "base" and bracket.reverse.start == "tempering"
    assert "parallel tempering" in bracket.reverse.start_note
    assert_close_and_bracketed(bracket.forward, exact)
    assert_close_and_bracketed(bracket.reverse, exact)
    assert bracket.lower <= exact <= bracket.upper
    assert abs(bracket.gap) < 0.2 and bracket.agree and bracket.reliable
    assert bracket.forward.reliable and bracket.reverse.reliable
    assert float(bracket) == pytest.approx(0.5 * (bracket.forward.log_z + bracket.reverse.log_z))
    assert bracket.seconds >= bracket.forward.seconds + bracket.reverse.seconds - 1e-6


def test_reverse_from_tempering_matches_exact_log_z_on_a_peaked_model():
    """std 2 weights make a rugged landscape; tempering still gives equilibrium samples."""
    rbm = random_rbm(20, 10, 2.0, seed=22)
    exact = xprbm.exact_log_partition(rbm)
    result = xprbm.ais(rbm, reverse=True, n_betas=5000, seed=0, progress=False)
    assert result.start == "tempering" and result.reliable
    assert_close_and_bracketed(result, exact)


def test_tuned_schedule_matches_exact_log_z_with_less_spread():
    """On this fast-mixing model, even-variance steps shrink the spread of the log weights:
    over seeds 1-6 the standard deviation was 0.11-0.12 tuned and 0.39-0.45 with the three
    segments (same 5,000 steps), so asking for less than half is a wide margin."""
    rbm = random_rbm(64, 12, 1.0, seed=23)
    exact = xprbm.exact_log_partition(rbm)
    result = xprbm.ais(rbm, schedule="tuned", n_betas=5000, seed=0, progress=False)
    assert result.schedule == "tuned" and result.n_steps == 5000
    assert result.betas[0] == 0.0 and result.betas[-1] == 1.0
    assert np.all(np.diff(result.betas) >= 0)
    assert_close_and_bracketed(result, exact)
    segments = xprbm.ais(rbm, n_betas=5000, seed=0, progress=False)
    assert segments.schedule == "segments"
    assert np.std(result.log_weights) < 0.5 * np.std(segments.log_weights)


# --------------------------------------------------------------------------- warnings
def test_warning_fires_on_two_steps_of_a_peaked_model():
    rbm = random_rbm(64, 12, 2.0, seed=24)
    with pytest.warns(AISReliabilityWarning, match=r"forward AIS bounds are not trustworthy: "
                      r"effective sample size [0-9.]+ of 100 chains \(needs >= 10") as seen:
        result = xprbm.ais(rbm, betas=[0.0, 0.5, 1.0], seed=0, progress=False)
    assert not result.reliable and result.ess < 10
    message = str(seen[0].message)
    assert "n_betas" in message and "n_chains" in message  # what to do
    assert issubclass(AISReliabilityWarning, UserWarning)
    assert xprbm.AISReliabilityWarning is AISReliabilityWarning


def test_bracket_warns_once_when_the_directions_disagree():
    rbm = random_rbm(64, 12, 2.0, seed=25)
    with pytest.warns(AISReliabilityWarning) as seen:
        bracket = xprbm.ais_bracket(rbm, n_betas=30, seed=0, burn_in=200, progress=False)
    assert len([w for w in seen if w.category is AISReliabilityWarning]) == 1
    assert not bracket.agree and not bracket.reliable
    assert "forward and reverse estimates differ by" in str(seen[0].message)
    assert bracket.forward.log_z < bracket.reverse.log_z  # each errs on its own side


def test_reliability_thresholds_are_the_stated_ones():
    assert min_ess(100) == 10 and min_ess(500) == 50 and min_ess(20) == 10
    assert reliability_problems(10.0, 100, 1.0, 2.0) == []
    assert "effective sample size 9.9 of 100" in reliability_problems(9.9, 100, 1.0, 2.0)[0]
    assert reliability_problems(51.0, 500, 1.0, 2.0) == []
    assert reliability_problems(49.0, 500, 1.0, 2.0)
    [problem] = reliability_problems(80.0, 100, -math.inf, 2.0)
    assert "reaches zero importance weight" in problem
    [problem] = reliability_problems(4.0, 5, 1.0, 2.0)
    assert problem.startswith("only 5 chains") and "cannot reach 10" in problem
    assert reliability_problems(1.0, 1, -math.inf, math.inf)[0].startswith("only 1 chain,")
    assert advice(5, 300).startswith("run at least 10 chains")
    assert "n_betas= / --ais-betas above 300" in advice(100, 300)


# ------------------------------------------------------------------------ reproducibility
def test_bracket_reproduces_per_seed_and_directions_draw_independently():
    rbm = random_rbm(9, 6, 0.5, seed=26)
    options = dict(n_betas=300, n_chains=40, burn_in=50, progress=False)
    first = xprbm.ais_bracket(rbm, seed=3, **options)
    again = xprbm.ais_bracket(rbm, seed=3, **options)
    other = xprbm.ais_bracket(rbm, seed=4, **options)
    for a, b in ((first.forward, again.forward), (first.reverse, again.reverse)):
        np.testing.assert_array_equal(a.log_weights, b.log_weights)
    assert not np.array_equal(first.forward.log_weights, other.forward.log_weights)
    assert not np.array_equal(first.reverse.log_weights, other.reverse.log_weights)
    alone = xprbm.ais(rbm, seed=3, reverse=True, **options)  # same streams as in the bracket
    np.testing.assert_array_equal(alone.log_weights, first.reverse.log_weights)


def test_tuned_schedule_reproduces_and_leaves_the_main_stream_alone():
    rbm = random_rbm(9, 6, 1.0, seed=27)
    betas = tuned_schedule(rbm, 200, pilot_chains=10, pilot_betas=100, seed=5)
    np.testing.assert_array_equal(betas, tuned_schedule(rbm, 200, pilot_chains=10,
                                                        pilot_betas=100, seed=5))
    assert not np.array_equal(betas, tuned_schedule(rbm, 200, pilot_chains=10,
                                                    pilot_betas=100, seed=6))
    tuned = xprbm.ais(rbm, schedule="tuned", n_betas=200, n_chains=50, seed=5, progress=False)
    given = xprbm.ais(rbm, betas=tuned.betas, n_chains=50, seed=5, progress=False)
    # the pilot draws from "ais_pilot", so the annealing draws are those of a given schedule
    np.testing.assert_array_equal(tuned.log_weights, given.log_weights)


# ------------------------------------------------------------------ even-variance schedule
def test_even_variance_schedule_places_steps_by_the_spread():
    pilot = np.linspace(0.0, 1.0, 101)
    flat = even_variance_schedule(pilot, np.ones(100), 50)
    np.testing.assert_allclose(flat, np.linspace(0.0, 1.0, 51), atol=1e-12)
    var = np.where(pilot[1:] <= 0.5, 1.0, 100.0)  # ten times the spread above 0.5
    betas = even_variance_schedule(pilot, var, 110)
    assert betas.shape == (111,) and betas[0] == 0.0 and betas[-1] == 1.0
    assert np.sum(betas[1:] <= 0.5) == 10  # 1/11 of the length lies below 0.5
    quiet = even_variance_schedule(pilot, np.zeros(100), 10)  # no spread seen: still spaced
    np.testing.assert_allclose(quiet, np.linspace(0.0, 1.0, 11), atol=1e-12)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.linspace(0, 1, 11), np.ones(9), 5), "one value per pilot step"),
        ((np.linspace(0, 1, 11), -np.ones(10), 5), "non-negative"),
        ((np.linspace(0, 1, 11), np.full(10, np.nan), 5), "finite"),
        ((np.linspace(0.1, 1, 11), np.ones(10), 5), "start at 0.0"),
        ((np.linspace(0, 1, 11), np.ones(10), 0), "n_betas must be a positive integer"),
    ],
)
def test_even_variance_schedule_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        even_variance_schedule(*args)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(schedule="fast"), "schedule must be one of"),
        (dict(start="pt"), "start must be one of"),
        (dict(schedule="tuned", betas=[0.0, 1.0]), "not both"),
        (dict(reverse=True, start="data"), "start='data' needs data"),
        (dict(n_chains=0), "n_chains must be a positive integer"),
    ],
)
def test_ais_rejects_bad_options_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        xprbm.ais(xprbm.RBM(7, 5, seed=0), progress=False, **kwargs)


def test_bracket_and_tuned_schedule_reject_bad_options_clearly():
    rbm = xprbm.RBM(7, 5, seed=0)
    with pytest.raises(ValueError, match="tolerance must be a positive number"):
        xprbm.ais_bracket(rbm, tolerance=0.0, progress=False)
    with pytest.raises(ValueError, match="start='data' needs data"):
        xprbm.ais_bracket(rbm, start="data", progress=False)
    with pytest.raises(ValueError, match="pilot_chains must be at least 2"):
        tuned_schedule(rbm, 10, pilot_chains=1)
    with pytest.raises(ValueError, match="pilot_betas"):
        tuned_schedule(rbm, 10, pilot_betas=2)
