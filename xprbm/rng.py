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

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
#: a uniform is the top 24 bits of the hash times 2**-24, exactly representable in float32
UNIFORM_SCALE = 2.0**-24


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
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative; got {seed}")
    return seed, mix64(seed & MASK64 ^ 0x5851F42D4C957F2D)


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
    def from_seed(cls, seed: int | None, stream: int = 0) -> CounterRNG:
        """Stream number ``stream`` of a user seed (independent streams for independent uses)."""
        _, key = seed_to_key(seed)
        return cls(key=mix64(key ^ mix64(stream * MIX2 + 1)))

    def next_base(self) -> int:
        """Return the base of the next draw and advance the counter."""
        base = stream_base(self.key, self.step)
        self.step += 1
        return base

    def numpy_generator(self) -> np.random.Generator:
        """A NumPy generator for host-side work (permutations), keyed on the next step."""
        return np.random.Generator(np.random.Philox(key=self.next_base()))

    def state(self) -> dict:
        """Serialisable state."""
        return {"key": self.key, "step": self.step}
