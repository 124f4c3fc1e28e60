"""How many threads the Numba update runs on: chosen by timing it, again and again.

The update's results do not depend on its thread count (its blocks follow the cores, not the
threads: :mod:`.numba_update`), so the count may change between any two updates. All cores
win for big models on an idle machine. They lose for small models, whose products are too
thin to split, and whenever another process keeps a core busy: every update runs several
parallel loops, each ending at a barrier, and a thread that the system has parked to run the
other process holds all the others there. On this project's 2-core machine, with one core kept
busy, a 784x256 epoch took 3.2 s on two threads and 1.5-1.8 s on one (0.89 s idle on two).
No fixed rule knows whether the machine is shared right now, so :class:`ThreadGovernor`
measures:

- it times every call at the current count and keeps the mean of the latest ones;
- now and then it runs a few calls at each other count (a *trial*) and keeps the count whose
  calls took least time in all (their mean, not their median: on a busy machine most calls
  on two threads can be fast while every few wait 20 ms at a barrier for a thread that the
  system parked, and those decide the epoch), if it wins by a margin;
- a count whose first calls are far slower than the current one's stops early;
- trials come soon after the start and after a change, then less often while the choice
  holds, at least once a second (a process that stops is noticed within about a second;
  a steady run pays a percent or two for the trials), and at once when calls suddenly
  become slower than at the last choice (another process started).

``bench/shared_cpu.py`` measures it: one epoch (60,000 rows, batch 100) with another process
spinning on one of the two cores took 1.18-1.28x (784x256) and 1.12-1.22x (784x16) the idle
epoch with the governor in two runs, 3.02-4.12x and 3.73-4.07x on a fixed two threads (with
medians instead of means, 1.77-1.88x and 2.04-2.46x). Letting
idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``) would spare the busy core too, but
slowed the idle 784x256 epoch by 40%, so the wait policy is left to the user.

Only the wall time of the calls is used. The counts are 1 and the caller's limit
(``numba.get_num_threads()``, which ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` set),
plus the powers of two between them; a trial tries the counts next to the current one, and
the wait before the next trial grows with what the last one cost, so that slow trials (a
large model on many cores) stay a few percent of the time.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator

#: calls timed per trial of a thread count (the first of them is not counted: it wakes threads)
TRIAL_CALLS = 6
#: a count replaces the current one when its mean call is this much faster
MARGIN = 0.9
#: seconds of calls before the first trial; the wait doubles while the choice holds, up to
#: MAX_WAIT (alternating idle and busy epochs of about a second showed that a longer wait
#: keeps one thread on an idle machine for too long)
FIRST_WAIT = 0.2
MAX_WAIT = 1.0
#: calls slower on average than this many times the mean at the last choice start a trial
#: at once (stalls at a barrier raise the mean, not the median)
SLOWDOWN = 1.5
#: a trial stops after this many timed calls (or any later one) when their mean is SLOWDOWN
#: times the current count's mean call (a hopeless count on a busy machine costs much)
LOSING_CALLS = 2
#: the wait before the next trial is at least this many times what the last one cost beyond
#: the current count's calls (so trials cost at most about 5% of the time)
TRIAL_BUDGET = 20.0
#: multiply-adds per update below which one thread starts (above: all of them)
SMALL_UPDATE = 4_000_000


def candidate_counts(limit: int) -> tuple[int, ...]:
    """1, the powers of two below ``limit``, and ``limit``."""
    counts, n = {1, max(1, limit)}, 2
    while n < limit:
        counts.add(n)
        n *= 2
    return tuple(sorted(counts))


def neighbours(limit: int, current: int) -> list[int]:
    """The candidate counts next to ``current`` (one below, one above): a trial tries only
    those, so that a many-core machine never runs a trial on a single thread."""
    counts = candidate_counts(limit)
    at = counts.index(current)
    return [counts[i] for i in (at - 1, at + 1) if 0 <= i < len(counts)]


class ThreadGovernor:
    """Chooses a thread count for each call of a kernel whose results do not depend on it.

    Parameters
    ----------
    multiply_adds : int
        Work of one call; small calls start on one thread, others on all.
    get_limit : callable () -> int
        The most threads the caller allows now (``numba.get_num_threads``).
    set_threads : callable (int) -> None
        Sets the count for the calls that follow (``numba.set_num_threads``).
    clock : callable () -> float
        Seconds (``time.perf_counter``; tests pass a fake one).

    Attributes
    ----------
    threads : int or None
        The count chosen for the current limit (None before the first call).
    switches : int
        How often the choice changed.
    """

    def __init__(self, multiply_adds: int, get_limit: Callable[[], int],
                 set_threads: Callable[[int], None],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.multiply_adds = multiply_adds
        self.get_limit, self.set_threads, self.clock = get_limit, set_threads, clock
        self.threads: int | None = None
        self.switches = 0
        self._limit = 0
        self._recent: deque[float] = deque(maxlen=TRIAL_CALLS)
        self._reference = 0.0  # mean call at the last choice
        self._wait = FIRST_WAIT
        self._since_choice = 0.0
        self._trial: list[int] = []  # counts still to try, the current one last
        self._trial_times: dict[int, list[float]] = {}

    def _restart(self, limit: int) -> None:
        self._limit = limit
        self.threads = limit if self.multiply_adds >= SMALL_UPDATE else 1
        self._recent.clear()
        self._reference, self._wait, self._since_choice = 0.0, FIRST_WAIT, 0.0
        self._trial, self._trial_times = [], {}

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """Run the block on the chosen count (restored afterwards) and time it."""
        limit = self.get_limit()
        if limit != self._limit:
            self._restart(limit)
        if limit == 1:
            yield
            return
        count = self._trial[0] if self._trial else self.threads
        self.set_threads(count)
        start = self.clock()
        try:
            yield
        finally:
            seconds = self.clock() - start
            self.set_threads(limit)
        self._record(count, seconds)

    def _record(self, count: int, seconds: float) -> None:
        if self._trial:
            times = self._trial_times.setdefault(count, [])
            times.append(seconds)
            # a count whose calls so far took far longer than the current one's loses early
            hopeless = (count != self.threads and len(times) > LOSING_CALLS
                        and statistics.fmean(times[1:]) > SLOWDOWN * self._reference > 0)
            if hopeless or len(times) == TRIAL_CALLS + 1:
                self._trial.pop(0)
                if not self._trial:
                    self._decide()
            return
        self._recent.append(seconds)
        self._since_choice += seconds
        if len(self._recent) < TRIAL_CALLS:
            return
        slower = self._reference and statistics.fmean(self._recent) > (
            SLOWDOWN * self._reference)
        if self._since_choice >= self._wait or slower:
            self._trial = neighbours(self._limit, self.threads) + [self.threads]  # current last
            self._trial_times = {}

    def _decide(self) -> None:
        # the first call of each count, which wakes threads, is left out: a busy machine can
        # stretch it tenfold once, and counting it kept one thread on a machine gone idle
        means = {n: statistics.fmean(times[1:]) for n, times in self._trial_times.items()}
        # what the trial's timed calls cost beyond running them at the current count
        extra = sum(sum(times[1:]) - (len(times) - 1) * means[self.threads]
                    for n, times in self._trial_times.items() if n != self.threads)
        best = min(means, key=means.get)
        if best != self.threads and means[best] < MARGIN * means[self.threads]:
            self.threads = best
            self.switches += 1
            self._wait = FIRST_WAIT
        else:
            self._wait = min(MAX_WAIT, 2 * self._wait)
        # trials take at most about 1 / TRIAL_BUDGET of the time, whatever they cost
        self._wait = max(self._wait, TRIAL_BUDGET * extra)
        self._reference = means[self.threads]
        self._recent.clear()
        self._since_choice = 0.0
