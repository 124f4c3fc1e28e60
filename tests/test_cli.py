"""The ``xprbm`` command end to end on tiny data: files, exit codes, resume, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import xprbm  # noqa: E402
from xprbm import cli, datasets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--hidden", "6", "--batch-size", "20", "--samples", "9", "--sample-steps", "20",
         "--backend", "numpy", "--lr", "0.1"]


def _bars_and_stripes(n: int = 200, side: int = 4, seed: int = 0) -> np.ndarray:
    """Random bars-and-stripes images, rows of ``side * side`` 0/1 pixels."""
    g = np.random.default_rng(seed)
    bits = g.integers(0, 2, size=(n, side))
    images = np.repeat(bits[:, None, :], side, axis=1)  # vertical bars
    flip = g.random(n) < 0.5
    images[flip] = images[flip].transpose(0, 2, 1)  # horizontal stripes
    return images.reshape(n, side * side).astype(np.float32)


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "bars.npy"
    np.save(path, _bars_and_stripes())
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------------- help
def test_help_lists_commands_and_examples(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for word in ("train", "sample", "evaluate", "demo", "examples:", "--quiet"):
        assert word in out
    for command in ("train", "sample", "evaluate", "demo"):
        code, out, _ = _run(capsys, command, "--help")
        assert code == 0 and "example" in out


def test_python_dash_m_help_in_a_subprocess():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "xprbm", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: xprbm" in done.stdout and "evaluate" in done.stdout
    assert done.stderr == ""


def test_version(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and xprbm.__version__ in out


# ------------------------------------------------------------------------------- end to end
def test_train_sample_evaluate(tmp_path, data_file, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(capsys, "train", "--data", data_file, "--epochs", 3, "--out", out,
                           *SMALL)
    assert code == 0
    expected = ["checkpoint.npz", "history.csv", "history.json", "learning_curves.png",
                "samples.png", "samples.npy", "samples_mean.npy", "filters.png",
                "free_energy.png", "run.json"]
    for name in expected:
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in stdout  # the summary lists every file
    for name in expected:
        if name.endswith(".png"):
            assert (out / name).read_bytes().startswith(b"\x89PNG")
    records = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert all(r["valid_pll_per_unit"] is not None for r in records)  # 10% of the file validates
    assert len((out / "history.csv").read_text().splitlines()) == 4
    trainer = xprbm.load(out / "checkpoint")
    assert trainer.epoch == 3 and trainer.rbm.n_hidden == 6

    code, stdout, _ = _run(capsys, "sample", out / "checkpoint", "--n", 7, "--steps", 15,
                           "--out", tmp_path / "s", "--init", "data")
    assert code == 0
    samples = np.load(tmp_path / "s" / "samples.npy")
    assert samples.shape == (7, 16) and set(np.unique(samples)) <= {0.0, 1.0}
    assert (tmp_path / "s" / "samples.png").is_file()

    code, stdout, _ = _run(capsys, "evaluate", out / "checkpoint.npz", "--quiet")
    assert code == 0
    for text in ("pseudo-log-likelihood", "reconstruction error", "free-energy gap",
                 "log-likelihood per sample", "log Z", "(exact)", "exact, on all rows"):
        assert text in stdout
    pll = float(stdout.split("pseudo-log-likelihood per unit")[1].split()[0])
    assert -np.log(2) * 1.5 < pll < 0.0


@pytest.mark.parametrize("schedule", [["--lr-schedule", "constant"],
                                      ["--lr-schedule", "linear", "--final-lr", "0.01",
                                       "--schedule-epochs", "4"]])
def test_resume_through_the_command_line_equals_a_straight_run(tmp_path, data_file, capsys,
                                                               schedule):
    common = ["--data", data_file, "--quiet", "--checkpoint-every", 1, *SMALL, *schedule]
    assert _run(capsys, "train", "--epochs", 4, "--out", tmp_path / "a", *common)[0] == 0
    assert _run(capsys, "train", "--epochs", 2, "--out", tmp_path / "b", *common)[0] == 0
    code, out, err = _run(capsys, "train", "--resume", tmp_path / "b" / "checkpoint",
                          "--epochs", 4, "--quiet")
    assert code == 0 and out == "" and err == ""
    straight, resumed = (xprbm.load(tmp_path / d / "checkpoint") for d in ("a", "b"))
    assert resumed.epoch == straight.epoch == 4
    for name, value in straight.rbm.parameters().items():
        np.testing.assert_array_equal(getattr(resumed.rbm, name), value)
    assert resumed.history.train_pll_per_unit == straight.history.train_pll_per_unit
    assert resumed.config == straight.config


def test_an_interrupted_scheduled_run_resumes_its_schedule(tmp_path, data_file, capsys,
                                                          monkeypatch):
    """--epochs is the whole run: a run stopped at epoch 2 of 4 resumes the schedule that ends
    at epoch 4 (recorded in its checkpoint), as the straight run trained it."""
    common = ["--data", data_file, "--checkpoint-every", 1, *SMALL, "--lr-schedule",
              "exponential", "--final-lr", "0.001"]
    code, out, _ = _run(capsys, "train", "--epochs", 4, "--out", tmp_path / "a", *common)
    assert code == 0 and "learning rate 0.1 to 0.001 (exponential, reached at epoch 4)" in out
    real_run = xprbm.Trainer.run

    def stopped(trainer, *args, **kwargs):  # as if killed after the checkpoint of epoch 2
        def callback(t):
            if t.epoch > 2:
                raise KeyboardInterrupt
        return real_run(trainer, *args, **{**kwargs, "callback": callback})

    monkeypatch.setattr(xprbm.Trainer, "run", stopped)
    assert _run(capsys, "train", "--epochs", 4, "--out", tmp_path / "b", "--quiet",
                *common)[0] == cli.EXIT_INTERRUPTED
    monkeypatch.setattr(xprbm.Trainer, "run", real_run)
    assert xprbm.load(tmp_path / "b" / "checkpoint").epoch == 2
    assert _run(capsys, "train", "--resume", tmp_path / "b" / "checkpoint", "--epochs", 4,
                "--quiet")[0] == 0
    straight, resumed = (xprbm.load(tmp_path / d / "checkpoint") for d in ("a", "b"))
    assert resumed.epoch == 4 and resumed.state.schedule_end == 4
    for name, value in straight.rbm.parameters().items():
        np.testing.assert_array_equal(getattr(resumed.rbm, name), value)


def test_quiet_training_prints_nothing(tmp_path, data_file, capsys):
    code, out, err = _run(capsys, "train", "--data", data_file, "--epochs", 1, "--out",
                          tmp_path / "q", "--quiet", *SMALL)
    assert (code, out, err) == (0, "", "")


def test_progress_bars_go_to_stderr(tmp_path, data_file, capsys):
    code, out, err = _run(capsys, "train", "--data", data_file, "--epochs", 1, "--out",
                          tmp_path / "p", *SMALL)
    assert code == 0 and "training" in err and "trained a 16x6 RBM" in out


def test_toy_data_sets_are_looked_up_by_name(tmp_path, capsys, monkeypatch):
    patterns = np.unique(_bars_and_stripes(), axis=0)

    def fake_bars_and_stripes():
        return SimpleNamespace(X=patterns, image_shape=(4, 4), optimum=0.0)

    monkeypatch.setattr(datasets, "bars_and_stripes", fake_bars_and_stripes, raising=False)
    out = tmp_path / "toy"
    code, stdout, _ = _run(capsys, "train", "--data", "bars-and-stripes", "--epochs", 2,
                           "--out", out, *SMALL)
    assert code == 0 and f"({len(patterns)} training rows, 0 validation rows" in stdout
    assert json.loads((out / "run.json").read_text())["image_shape"] == [4, 4]
    assert not (out / "free_energy.png").exists()  # no validation rows, no histogram


def test_evaluate_falls_back_to_ais_above_the_exact_limit(tmp_path, data_file, capsys):
    """With --exact-max-units below the model's size, log Z comes from AIS with bounds; on
    this 16x6 model it must land within 0.2 nats of the exact value."""
    out = tmp_path / "run"
    assert _run(capsys, "train", "--data", data_file, "--epochs", 1, "--out", out, "-q",
                *SMALL)[0] == 0
    code, stdout, _ = _run(capsys, "evaluate", out / "checkpoint", "--exact-max-units", 3,
                           "--ais-betas", 2000, "--quiet")
    assert code == 0 and "(AIS; bounds [" in stdout
    estimate = float(re.search(r"log Z = ([-0-9.]+) \(AIS", stdout).group(1))
    exact = xprbm.exact_log_partition(xprbm.load(out / "checkpoint").rbm)
    assert abs(estimate - exact) < 0.2, (estimate, exact)
    # both directions, each with its ESS, the reverse start and the verdict
    for direction in ("forward", "reverse"):
        found = re.search(direction + r" AIS: log Z ([-0-9.]+) \[([-0-9.]+), ([-0-9.]+)\], "
                          r"ESS ([0-9.]+) of 100 chains, 2000 steps", stdout)
        assert found, stdout
        assert abs(float(found.group(1)) - exact) < 0.2 and float(found.group(4)) >= 10
    assert "started from parallel tempering" in stdout
    assert "forward and reverse agree" in stdout and "WARNING" not in stdout


def test_evaluate_warns_in_its_output_when_ais_cannot_be_trusted(tmp_path, data_file, capsys):
    """Five chains over three temperatures: the ESS cannot reach 10, and the table says so
    on stdout, also with --quiet (which silences Python warnings)."""
    out = tmp_path / "run"
    assert _run(capsys, "train", "--data", data_file, "--epochs", 1, "--out", out, "-q",
                *SMALL)[0] == 0
    code, stdout, _ = _run(capsys, "evaluate", out / "checkpoint", "--exact-max-units", 3,
                           "--ais-betas", 3, "--ais-chains", 5, "--quiet")
    assert code == 0
    [warning] = [line for line in stdout.splitlines() if line.startswith("WARNING:")]
    assert "AIS bounds are not trustworthy" in warning and "only 5 chains" in warning
    assert "at least 10 chains (n_chains= / --ais-chains; 5 now)" in warning


def test_demo_with_tiny_settings(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    out = tmp_path / "demo"
    code, stdout, err = _run(capsys, "demo", "--epochs", 1, "--hidden", 4, "--samples", 4,
                             "--sample-steps", 2, "--out", out, "--backend", "numpy")
    assert code == 0
    summary = (out / "summary.txt").read_text()
    for name in ("samples.png", "learning_curves.png", "filters.png", "free_energy.png",
                 "checkpoint.npz", "history.csv", "history.json"):
        assert (out / name).is_file() and str(out / name) in summary
    assert "4000 training rows, 1000 validation rows" in summary
    assert summary.strip() in stdout


# ----------------------------------------------------------------------------------- errors
def _error(capsys, *argv, code: int = 1) -> str:
    got, out, err = _run(capsys, *argv)
    assert got == code, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xprbm"), err
    assert "Traceback" not in err and "error:" in lines[0]
    return lines[0]


def test_errors_are_one_line_with_a_non_zero_status(tmp_path, data_file, capsys,
                                                    monkeypatch):
    missing = tmp_path / "nothing.npy"
    assert "not found" in _error(capsys, "train", "--data", missing, "--out", tmp_path / "x")
    assert "unknown --data" in _error(capsys, "train", "--data", "cifar", "--out",
                                      tmp_path / "x")
    assert "whole number" in _error(capsys, "train", "--hidden", "many", code=2)
    assert "invalid choice" in _error(capsys, "frobnicate", code=2)
    assert "checkpoint not found" in _error(capsys, "sample", tmp_path / "none")
    assert "not an xprbm checkpoint" in _error(capsys, "evaluate", data_file)
    np.save(tmp_path / "grey.npy", np.linspace(0, 1, 40 * 16).reshape(40, 16))
    assert "--binarize 0.5" in _error(capsys, "train", "--data", tmp_path / "grey.npy",
                                      "--out", tmp_path / "g", *SMALL)
    assert "expected a positive integer" in _error(capsys, "train", "--data", data_file,
                                                   "--epochs", 0, "--out", tmp_path / "e",
                                                   code=2)
    assert "learning_rate must lie in" in _error(capsys, "train", "--data", data_file,
                                                 "--lr", "-1", "--out", tmp_path / "l")
    monkeypatch.setenv("XPRBM_DATA", str(tmp_path / "empty-cache"))
    assert "download" in _error(capsys, "train", "--data", "mnist", "--out", tmp_path / "m")


def test_existing_runs_are_not_overwritten_and_settings_not_changed(tmp_path, data_file,
                                                                    capsys):
    out = tmp_path / "run"
    assert _run(capsys, "train", "--data", data_file, "--epochs", 1, "--out", out, "-q",
                *SMALL)[0] == 0
    assert "--resume" in _error(capsys, "train", "--data", data_file, "--out", out)
    message = _error(capsys, "train", "--resume", out / "checkpoint", "--lr", "0.3")
    assert "--learning-rate 0.3" in message and "keeps its settings" in message
    xprbm.save(xprbm.load(out / "checkpoint").rbm, tmp_path / "model.npz")
    assert "without its training state" in _error(capsys, "train", "--resume",
                                                   tmp_path / "model.npz")


def test_unexpected_failures_are_one_line_too(tmp_path, data_file, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr("xprbm.cli.load_data", broken)
    message = _error(capsys, "train", "--data", data_file, "--out", tmp_path / "k")
    assert "internal error KeyError" in message and "--debug" in message


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "sample", str(tmp_path / "none")])


def test_train_streams_a_zarr_store(tmp_path, capsys):
    zarr = pytest.importorskip("zarr")
    rows = _bars_and_stripes().astype(np.uint8)
    store = zarr.create_array(str(tmp_path / "bars.zarr"), shape=rows.shape, chunks=(32, 16),
                              dtype="uint8")
    store[:] = rows
    out = tmp_path / "run"
    code, stdout, _ = _run(capsys, "train", "--data", tmp_path / "bars.zarr", "--epochs", 2,
                           "--out", out, *SMALL)
    assert code == 0, stdout
    trainer = xprbm.load(out / "checkpoint")
    assert trainer.epoch == 2 and trainer.n_updates == 2 * 10  # 200 rows, batches of 20
    code, _, err = _run(capsys, "train", "--data", tmp_path / "bars.zarr", "--validation",
                        "0.1", "--out", tmp_path / "other", *SMALL)
    assert code != 0 and "--validation 0" in err


def test_the_command_lines_final_rate_follows_its_learning_rate():
    """A run decays its rate to a tenth of --lr unless --final-lr says otherwise, so --lr
    alone never makes the rate rise; a constant schedule has no final rate."""
    from xprbm import cli

    parser = cli.build_parser()

    def settings(*flags):
        return cli.command_line_settings(parser.parse_args(["train", *flags]))

    default = settings()
    assert (default["learning_rate_schedule"], default["learning_rate"]) == ("linear", 0.01)
    assert default["final_learning_rate"] == pytest.approx(0.001)
    assert default["centered"] is True and default["weight_decay"] == 1e-4
    assert settings("--lr", "0.0005")["final_learning_rate"] == pytest.approx(0.00005)
    assert settings("--lr", "0.05", "--final-lr", "0.02")["final_learning_rate"] == 0.02
    assert settings("--lr-schedule", "constant")["final_learning_rate"] is None
    xprbm.TrainConfig(**settings("--lr-schedule", "constant"))  # accepted as it stands
