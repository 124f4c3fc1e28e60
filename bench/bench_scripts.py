"""Smoke runs of the measuring scripts in bench/ (their figures come from running them)."""

from __future__ import annotations

import centred_epoch
import operand_density
import shared_cpu
import sparse_field

from xprbm.kernels import numba_sparse


def bench_shared_cpu_script_runs(capsys):
    assert shared_cpu.main(["--rows", "2000", "--rounds", "1"]) == 0
    table = capsys.readouterr().out
    assert table.count("| 784x") == len(shared_cpu.MODELS)


def bench_operand_density_script_runs(capsys):
    assert operand_density.main(["--rows", "2000", "--epochs", "2", "--hidden", "32"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1 ")
            or line.startswith("| 2 ")]
    assert len(rows) == 2
    for row in rows:
        densities = [float(cell) for cell in row.strip("|").split("|")[1:]]
        assert all(0.0 < value < 1.0 for value in densities)


def bench_centred_epoch_script_runs(capsys):
    assert centred_epoch.main(["--hidden", "16", "--rounds", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "update" in line
            and line.startswith("| ") and not line.startswith("| update")]
    assert len(rows) == len(centred_epoch.CASES)
    assert all(float(row.strip("|").split("|")[-1]) > 0 for row in rows)


def bench_sparse_field_script_runs(capsys):
    shipped = numba_sparse.FIELD_BELOW, numba_sparse.GATHER_BELOW
    assert sparse_field.main(["--rows", "2000", "--rounds", "1", "--hidden", "16"]) == 0
    assert (numba_sparse.FIELD_BELOW, numba_sparse.GATHER_BELOW) == shipped  # restored
    lines = capsys.readouterr().out.splitlines()
    timed = [line for line in lines if line.rstrip().endswith("x floor")]
    assert len(timed) == 4 and all(float(line.split()[-4]) > 0 for line in timed)
    assert lines[-1].strip().startswith("as shipped / all dense:")
