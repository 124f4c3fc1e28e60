"""Smoke run of ``bench/stream_epoch.py`` (one epoch from a memmap and a zarr store, each in
a fresh process); the figures for 2,000,000 rows come from running the script itself."""

from __future__ import annotations

import stream_epoch


def bench_stream_epoch_smoke(tmp_path):
    import pytest

    pytest.importorskip("zarr")
    results = stream_epoch.main(["--rows", "3000", "--dir", str(tmp_path),
                                 "--kinds", "memmap,zarr"])
    assert [r["kind"] for r in results] == ["memmap", "zarr"]
    assert all(r["rows"] == 3000 and r["seconds"] > 0 for r in results)
