"""Counter-based random numbers shared by every backend and kernel.

A draw is a pure function of ``(key, step, element)``: the ``step``-th call of a stream
fills an array whose element ``i`` (row-major) is
``splitmix64(base(key, step) + (i + 1) * GOLDEN)``.
Because no element depends on another, the generic array-API path, the parallel Numba kernel
and the CuPy kernel produce the same uniforms for the same seed, whatever the thread count.
The whole state of a stream is two integers, so checkpoints resume bit-exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_int

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
#: a uniform is the top 24 bits of the hash times 2**-24, exactly representable in float32
UNIFORM_SCALE = 2.0**-24

#: Every counter-based stream derived from a user seed, by use. A number names one use only,
#: so that no two uses of one seed draw the same numbers (the model's own stream, for
#: ``RBM.sample_hidden`` and friends without a seed, is the seed's key itself).
STREAMS = {
    "train": 1,  # the updates: chain initialisation, epoch shuffles, Gibbs draws
    "monitor": 2,  # per-epoch metrics, so that monitoring never changes training
    "pseudo_likelihood": 3,  # flipped units of pseudo_log_likelihood(..., seed=int)
    "ais": 7,  # annealed importance sampling (kept, so that AIS figures reproduce)
    "split": 8,  # the permutation that holds out a file's validation rows
    "pictures": 9,  # rows and Gibbs chains behind the pictures of a run
    "sample": 10,  # RBM.sample, gibbs, sample_hidden, sample_visible with seed=int
    "ais_pilot": 11,  # the short AIS runs that place the temperatures of a tuned schedule
    "ais_reverse": 12,  # reverse AIS (independent of the forward run of the same seed)
}
#: Host generators derived from the training stream's key and a tag (they depend on the seed
#: only, never on how many draws the stream has taken)
TAGS = {
    "validation_split": 0xA11D,  # Trainer.run(validation=fraction)
    "monitor_rows": 0x3017,  # the fixed rows the per-epoch metrics use
}


def mix64(z: int) -> int:
    """SplitMix64 finaliser on a Python integer (arithmetic modulo 2**64)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return z ^ (z >> 31)


def stream_base(key: int, step: int) -> int:
    """Starting point of the ``step``-th draw of the stream ``key``."""
    return mix64(key ^ mix64((step + 1) * GOLDEN))


def seed_to_key(seed: int | None) -> tuple[int, int]:
    """Turn a user seed (or None for fresh entropy) into ``(seed, key)``.

    The chosen seed is returned so that a model created with ``seed=None`` can still be
    reproduced from what it records.
    """
    if seed is None:
        seed = int(np.random.SeedSequence().entropy) & MASK64
    seed = check_int(seed, "seed", 0)
    if seed > MASK64:  # larger seeds would share streams with seed % 2**64
        raise ValueError(f"seed must be below 2**64; got {seed}")
    return seed, mix64(seed ^ 0x5851F42D4C957F2D)


@dataclass
class CounterRNG:
    """A stream of counter-based draws: a fixed ``key`` and a ``step`` that advances per draw.

    Parameters
    ----------
    key : int
        64-bit stream key (see :func:`seed_to_key`).
    step : int
        Number of draws taken so far.
    """

    key: int
    step: int = 0

    @classmethod
    def from_seed(cls, seed: int | None, stream: str) -> CounterRNG:
        """The stream called ``stream`` (a key of :data:`STREAMS`) of a user seed."""
        if stream not in STREAMS:
            raise ValueError(f"unknown random stream {stream!r}; known: {sorted(STREAMS)}")
        _, key = seed_to_key(seed)
        return cls(key=mix64(key ^ mix64(STREAMS[stream] * MIX2 + 1)))

    def next_base(self) -> int:
        """Return the base of the next draw and advance the counter."""
        base = stream_base(self.key, self.step)
        self.step += 1
        return base

    def numpy_generator(self) -> np.random.Generator:
        """A NumPy generator for host-side work (permutations), keyed on the next step."""
        return np.random.Generator(np.random.Philox(key=self.next_base()))

    def derived_generator(self, tag: str) -> np.random.Generator:
        """A host generator that depends on this stream's key and ``TAGS[tag]`` only."""
        return np.random.Generator(np.random.Philox(key=mix64(self.key ^ TAGS[tag])))

    def state(self) -> dict[str, int]:
        """Serialisable state."""
        return {"key": self.key, "step": self.step}


def stream_for(seed: int | CounterRNG | None, stream: str, default: CounterRNG) -> CounterRNG:
    """The stream a random function draws from, by the one rule every ``seed=`` follows.

    Parameters
    ----------
    seed : int, CounterRNG or None
        ``None``: ``default`` (the caller's own stream, which advances); an int: the stream
        ``stream`` of that seed, fresh for this call; a :class:`CounterRNG`: that stream
        itself (so that several calls can share one stream).
    stream : str
        A key of :data:`STREAMS`.
    default : CounterRNG

    Returns
    -------
    CounterRNG
    """
    if seed is None:
        return default
    if isinstance(seed, CounterRNG):
        return seed
    return CounterRNG.from_seed(seed, stream)
