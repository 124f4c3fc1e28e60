"""What reading memory that another core has just written costs (the reason for the block layout
of :mod:`xprbm.kernels.numba_update`).

    python bench/cross_core_writes.py

Two blocks of a Numba parallel loop each write their half of an array the size of the
weights, then both read the whole array: each block reads the half the other block wrote.
The same rounds without the writes give the baseline; the difference, per byte that crossed
between cores, is the transfer rate. Needs at least 2 cores.
"""

from __future__ import annotations

import time

import numba
import numpy as np

ROUNDS = 600


@numba.njit(parallel=True, fastmath=True)
def _rounds(array: np.ndarray, n_rounds: int, write: bool, sink: np.ndarray) -> None:
    n = array.shape[0]
    for _ in range(n_rounds):
        if write:
            for part in numba.prange(2):
                half = array[n * part // 2: n * (part + 1) // 2]
                for i in range(half.shape[0]):
                    half[i] += np.float32(1e-30)  # below one ulp: the values stay the same
        for part in numba.prange(2):
            total = np.float32(0.0)
            for i in range(n):
                total += array[i]
            sink[part] += total


def best_seconds(array: np.ndarray, write: bool, repeats: int = 5) -> float:
    sink = np.zeros(2, dtype=np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _rounds(array, ROUNDS, write, sink)
        times.append(time.perf_counter() - start)
    return min(times) / ROUNDS


def main() -> None:
    print(f"numba threads={numba.get_num_threads()}")
    for n_bytes in (400_000, 800_000, 3_200_000):  # 784x256 float32 weights are 803 KB
        array = np.ones(n_bytes // 4, dtype=np.float32)
        _rounds(array, 1, True, np.zeros(2, dtype=np.float32))  # compile
        written, read_only = best_seconds(array, True), best_seconds(array, False)
        crossed = n_bytes / 2  # each block reads the other's half
        print(f"{n_bytes / 1e3:6.0f} KB: {written * 1e6:6.1f} us per round with the writes, "
              f"{read_only * 1e6:5.1f} us without; {crossed / (written - read_only) / 1e9:.1f} "
              "GB/s per core across cores")


if __name__ == "__main__":
    main()
