"""Run folders on the command line: never destroyed, never shared, never mixed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import xprbm  # noqa: E402
from xprbm import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "4", "--batch-size", "20", "--samples", "4", "--sample-steps", "5",
        "--backend", "numpy", "--epochs", "2", "-q"]


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "rows.npy"
    np.save(path, (np.random.default_rng(0).random((120, 16)) < 0.4).astype(np.float32))
    return path


def _main(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_demo_never_replaces_a_training_run(tmp_path, data_file, capsys):
    pytest.importorskip("mlxtend")
    out = tmp_path / "r"
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0
    before = (out / "checkpoint.npz").read_bytes()
    code, err = _main(capsys, "demo", "--out", out, "--epochs", "1", "--hidden", "4",
                      "--samples", "4", "--sample-steps", "5", "-q")
    assert code == 1 and "already holds a run" in err and "--overwrite" in err
    assert (out / "checkpoint.npz").read_bytes() == before
    demo = tmp_path / "demo"
    for _ in range(2):  # a demo replaces its own earlier output
        assert _main(capsys, "demo", "--out", demo, "--epochs", "1", "--hidden", "4",
                     "--samples", "4", "--sample-steps", "5", "-q")[0] == 0


def test_a_second_writer_fails_at_once_naming_the_first(tmp_path, data_file, capsys):
    out = tmp_path / "busy"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from xprbm.runs import RunFolder\n"
         "with RunFolder(Path(sys.argv[1]), 'xprbm train'):\n"
         "    print('locked', flush=True); time.sleep(60)", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.perf_counter()
        code, err = _main(capsys, "train", "--data", data_file, "--out", out, *TINY)
        assert code == 1 and time.perf_counter() - start < 5
        assert f"process {holder.pid}" in err and "xprbm train" in err
        assert not (out / "checkpoint.npz").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0


def test_overwrite_removes_the_old_run_first(tmp_path, data_file, capsys):
    out = tmp_path / "r"
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0
    assert (out / "free_energy.png").exists()
    assert _main(capsys, "train", "--data", data_file, "--validation", "0", "--overwrite",
                 "--out", out, *TINY)[0] == 0
    assert not (out / "free_energy.png").exists()  # no validation rows: not drawn again


def test_resume_refuses_other_data_unless_told(tmp_path, data_file, capsys):
    out = tmp_path / "r"
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0
    other = tmp_path / "other.npy"
    np.save(other, (np.random.default_rng(1).random((120, 16)) < 0.4).astype(np.float32))
    code, err = _main(capsys, "train", "--resume", out, "--data", other, "--epochs", "3", "-q")
    assert code == 1 and "other data" in err and "--new-data" in err
    assert xprbm.load(out).epoch == 2
    assert _main(capsys, "train", "--resume", out, "--data", other, "--new-data", "--epochs",
                 "3", "-q")[0] == 0
    assert xprbm.load(out).epoch == 3


def test_empty_names_and_damaged_run_files_get_one_line_errors(tmp_path, data_file, capsys):
    code, err = _main(capsys, "train", "--data", "", "--out", tmp_path / "e", *TINY)
    assert code == 1 and "--data is empty" in err
    code, err = _main(capsys, "train", "--data", data_file, "--out", "", *TINY)
    assert code == 1 and "--out is empty" in err
    out = tmp_path / "r"
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0
    for content, words in (("{not json", "cannot be read as JSON"),
                           (json.dumps({"data": ["a"]}), "damaged"),
                           (json.dumps({"data": {"data": 3}, "pictures_seed": -1}), "seed")):
        (out / "run.json").write_text(content)
        code, err = _main(capsys, "sample", out, "--n", "2", "--steps", "2", "-q")
        assert code == 1 and "run.json" in err and words in err, err


def test_links_planted_in_a_run_folder_are_replaced_not_followed(tmp_path, data_file, capsys):
    out = tmp_path / "r"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "history.csv").symlink_to(victim)
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0
    assert victim.read_text() == "keep me" and not (out / "history.csv").is_symlink()


def test_quiet_runs_print_no_warnings_and_broken_pipes_end_quietly(capsys, monkeypatch):
    import warnings

    def noisy(args):
        warnings.warn("overflow encountered", RuntimeWarning, stacklevel=2)
        return 0

    def reader_left(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_sample", noisy)  # the parser binds handlers when built
    with warnings.catch_warnings(record=True) as seen:  # pytest's own capture is bypassed
        warnings.simplefilter("always")
        assert cli.main(["sample", "x", "-q"]) == 0
        assert not seen
        assert cli.main(["sample", "x"]) == 0
        assert [str(w.message) for w in seen] == ["overflow encountered"]  # shown without -q
    monkeypatch.setattr(cli, "cmd_sample", reader_left)
    assert cli.main(["sample", "x"]) == 0
    assert capsys.readouterr().err == ""


def test_evaluation_bounds_stay_in_their_columns(tmp_path, data_file, capsys):
    out = tmp_path / "r"
    assert _main(capsys, "train", "--data", data_file, "--out", out, *TINY)[0] == 0
    code = cli.main(["evaluate", str(out), "--exact-max-units", "2", "--ais-chains", "8",
                     "--ais-betas", "20", "-q"])
    text = capsys.readouterr().out
    assert code == 0
    bounds = next(line for line in text.splitlines() if line.strip().startswith("bounds"))
    cells = bounds.split("]")
    assert len(cells) == 3 and cells[1].startswith("  ")  # two bracketed cells, spaced
