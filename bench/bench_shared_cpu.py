"""Smoke run of ``bench/shared_cpu.py`` (the figures come from running the script itself)."""

from __future__ import annotations

import shared_cpu


def bench_shared_cpu_script_runs(capsys):
    assert shared_cpu.main(["--rows", "2000", "--rounds", "1"]) == 0
    table = capsys.readouterr().out
    assert table.count("| 784x") == len(shared_cpu.MODELS)
