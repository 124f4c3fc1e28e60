"""The thread governor of the Numba update: it keeps the fastest thread count, by timing."""

from __future__ import annotations

import numpy as np
import pytest

from xprbm.kernels import threads
from xprbm.kernels.threads import ThreadGovernor, candidate_counts


class FakeMachine:
    """A clock and a kernel whose call costs ``cost[n]`` seconds on ``n`` threads, or, where
    ``cost[n]`` is a list, its entries in turn (one per call on ``n`` threads)."""

    def __init__(self, cost: dict[int, float | list[float]], limit: int = 2) -> None:
        self.cost, self.limit = dict(cost), limit
        self.now, self.current = 0.0, limit
        self.history: list[int] = []

    def clock(self) -> float:
        return self.now

    def set_threads(self, n: int) -> None:
        assert 1 <= n <= self.limit
        self.current = n

    def governor(self, multiply_adds: int = 10**9) -> ThreadGovernor:
        return ThreadGovernor(multiply_adds, lambda: self.limit, self.set_threads, self.clock)

    def run(self, governor: ThreadGovernor, calls: int) -> None:
        for _ in range(calls):
            with governor.call():
                cost = self.cost[self.current]
                if isinstance(cost, list):
                    cost = cost[self.history.count(self.current) % len(cost)]
                self.history.append(self.current)
                self.now += cost
            assert self.current == self.limit  # the caller's setting is restored


def test_candidate_counts():
    assert candidate_counts(1) == (1,)
    assert candidate_counts(2) == (1, 2)
    assert candidate_counts(6) == (1, 2, 4, 6)
    assert candidate_counts(8) == (1, 2, 4, 8)


def test_big_updates_start_on_every_thread_and_keep_them_while_faster():
    machine = FakeMachine({1: 2e-3, 2: 1e-3})
    governor = machine.governor()
    machine.run(governor, 3000)
    assert governor.threads == 2 and governor.switches == 0
    assert machine.history[0] == 2
    # the trials on one thread cost a few percent of the calls at most
    assert machine.history.count(1) < 0.03 * len(machine.history)


def test_small_updates_start_on_one_thread():
    machine = FakeMachine({1: 1e-4, 2: 2e-4})
    governor = machine.governor(multiply_adds=threads.SMALL_UPDATE - 1)
    machine.run(governor, 2000)
    assert machine.history[0] == 1 and governor.threads == 1 and governor.switches == 0


def test_a_wrong_first_guess_is_corrected_within_a_fraction_of_a_second():
    machine = FakeMachine({1: 1e-3, 2: 3e-3})  # a small model that loses on two threads
    governor = machine.governor()
    machine.run(governor, 300)  # 0.3 s or more of calls
    assert governor.threads == 1 and governor.switches == 1
    # after a change the next trial comes soon; it costs one trial's calls on two threads
    assert machine.history[-100:].count(2) <= threads.TRIAL_CALLS + 1


def test_a_busy_core_moves_the_choice_and_an_idle_machine_moves_it_back():
    machine = FakeMachine({1: 2e-3, 2: 1e-3})
    governor = machine.governor()
    machine.run(governor, 1000)
    assert governor.threads == 2
    machine.cost = {1: 2.5e-3, 2: 6e-3}  # another process takes a core
    before = len(machine.history)
    machine.run(governor, 200)
    assert governor.threads == 1
    assert machine.history[before:].index(1) < 3 * (threads.TRIAL_CALLS + 1)  # at once
    machine.cost = {1: 2e-3, 2: 1e-3}  # it stops
    machine.run(governor, 10000)  # 20 s at most, the longest wait is MAX_WAIT
    assert governor.threads == 2 and governor.switches == 2


def test_a_count_whose_calls_stall_now_and_then_loses_on_their_total():
    """On a busy machine three calls in four on two threads are fast, and the fourth waits
    20 ms at a barrier for a parked thread: the median call says two threads, the time in
    all says one (0.6 ms a call against 5.3 ms)."""
    machine = FakeMachine({1: 0.6e-3, 2: [0.4e-3, 0.4e-3, 0.4e-3, 20e-3]})
    governor = machine.governor(multiply_adds=threads.SMALL_UPDATE - 1)
    machine.run(governor, 3000)
    assert governor.threads == 1 and governor.switches == 0
    stalls = machine.history.count(2) // 4
    assert stalls * 20e-3 < 0.1 * machine.now  # the trials on two threads stay cheap


def test_stalls_that_start_mid_run_start_a_trial_at_once():
    """Two threads win on an idle machine; then every fourth two-thread call stalls 20 ms
    (the median call stays fast, the mean is five times the reference): the governor moves
    to one thread within a few calls, not at its next timed trial."""
    machine = FakeMachine({1: 2e-3, 2: 1e-3})
    governor = machine.governor()
    machine.run(governor, 2000)
    assert governor.threads == 2
    machine.cost = {1: 2e-3, 2: [0.8e-3, 0.8e-3, 0.8e-3, 20e-3]}
    before = len(machine.history)
    machine.run(governor, 100)
    assert governor.threads == 1
    assert machine.history[before:].index(1) < 3 * (threads.TRIAL_CALLS + 1)


def test_close_counts_do_not_flap():
    rng = np.random.default_rng(0)
    machine = FakeMachine({1: 1e-3, 2: 1e-3})
    governor = machine.governor()
    for _ in range(200):  # 5% noise, no real difference: the margin keeps the choice
        machine.cost = {n: 1e-3 * (1 + 0.05 * rng.standard_normal()) for n in (1, 2)}
        machine.run(governor, 20)
    assert governor.switches <= 1


def test_a_single_thread_limit_is_left_alone():
    machine = FakeMachine({1: 1e-3}, limit=1)
    governor = machine.governor()
    machine.run(governor, 100)
    assert set(machine.history) == {1} and governor.switches == 0


def test_a_new_limit_restarts_the_choice():
    machine = FakeMachine({1: 1e-3, 2: 3e-3, 4: 0.5e-3}, limit=2)
    governor = machine.governor()
    machine.run(governor, 500)
    assert governor.threads == 1
    machine.limit = 4  # numba.set_num_threads(4) by the user
    machine.run(governor, 500)
    assert governor.threads == 4


def test_an_exception_in_the_call_restores_the_callers_count():
    machine = FakeMachine({1: 1e-3, 2: 1e-3})
    governor = machine.governor(multiply_adds=1)
    with pytest.raises(RuntimeError), governor.call():
        assert machine.current == 1
        raise RuntimeError("kernel failed")
    assert machine.current == 2


def test_a_hopeless_count_is_dropped_after_a_few_calls():
    machine = FakeMachine({1: 1e-3, 2: 20e-3})  # two threads stalled by a busy machine
    governor = machine.governor()
    machine.run(governor, 400)
    assert governor.threads == 1
    start = len(machine.history)
    machine.run(governor, 20000)  # 20 s: a trial every MAX_WAIT seconds or sooner
    later = machine.history[start:]
    trials = sum(1 for a, b in zip(later[:-1], later[1:], strict=True) if (a, b) == (1, 2))
    assert 20 / threads.MAX_WAIT / 2 <= trials <= 20 / threads.MAX_WAIT + 5
    assert later.count(2) == trials * (1 + threads.LOSING_CALLS)
    # each trial costs 3 calls of 20 ms: a few percent of the time
    assert later.count(2) * 20e-3 < 0.1 * 20


def test_many_cores_try_only_neighbouring_counts_and_keep_trials_cheap():
    cost = {1: 800e-3, 2: 400e-3, 4: 200e-3, 8: 100e-3, 16: 50e-3}  # a big model, 16 cores
    machine = FakeMachine(cost, limit=16)
    governor = machine.governor()
    machine.run(governor, 600)  # 30 s at 16 threads
    assert governor.threads == 16 and set(machine.history) <= {8, 16}
    spent = sum(cost[n] for n in machine.history)
    assert spent < 1.1 * len(machine.history) * cost[16]


def test_neighbours():
    assert threads.neighbours(2, 2) == [1] and threads.neighbours(2, 1) == [2]
    assert threads.neighbours(16, 4) == [2, 8] and threads.neighbours(6, 6) == [4]
