"""Save and load models and whole training states: one versioned ``.npz`` file per object.

A checkpoint is an uncompressed NumPy ``.npz`` archive. Besides the arrays (parameters,
persistent chains, momentum buffers, history columns) it holds one member, ``METADATA_KEY``,
with UTF-8 JSON: the format name and version, the kind of object, the settings, the states of
the counter-based random streams (64-bit keys kept exactly, as decimal strings), counters, and
the shape, dtype and SHA-256 of every array. Loading checks all of it, so a truncated,
corrupted, foreign or newer file fails with :class:`CheckpointError` instead of a half-restored
object.

Files are written atomically: into a temporary file in the target directory, flushed and
synced to disk, then renamed over the target. A crash during :func:`save` leaves the previous
checkpoint intact.

>>> import numpy as np, xprbm, tempfile, os
>>> rbm = xprbm.RBM(6, 3, seed=0)
>>> path = xprbm.save(rbm, os.path.join(tempfile.mkdtemp(), "model"))
>>> path.name
'model.npz'
>>> bool(np.array_equal(xprbm.load(path).weights, rbm.weights))
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .backend import BackendUnavailableError, get_backend
from .rbm import RBM
from .rng import CounterRNG
from .train import CONFIG_FIELDS, History, Trainer

#: name written into every checkpoint; files without it are not xprbm checkpoints
FORMAT_NAME = "xprbm-checkpoint"
#: highest format version this code reads and the version it writes
FORMAT_VERSION = 1
#: archive member holding the JSON metadata (as a uint8 array of UTF-8 bytes)
METADATA_KEY = "xprbm_metadata"
KINDS = ("rbm", "trainer")
_ZIP_MAGIC = b"PK\x03\x04"

PathLike = str | os.PathLike


class CheckpointError(ValueError):
    """A file is not a loadable xprbm checkpoint (truncated, corrupted, foreign or too new)."""


# ------------------------------------------------------------------------------ saving
def save(obj: RBM | Trainer, path: PathLike) -> Path:
    """Write a model or a whole training state to one file, atomically.

    Parameters
    ----------
    obj : RBM or Trainer
        An :class:`~xprbm.RBM` (parameters, settings, sampling RNG) or a
        :class:`~xprbm.Trainer` (all of that for its model, plus training settings,
        persistent chains, momentum buffers, random streams, counters and history).
    path : str or path-like
        Target file. ``".npz"`` is appended when the name has no suffix. The directory must
        exist. An existing file is replaced only once the new one is complete on disk.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    TypeError
        ``obj`` is neither an RBM nor a Trainer.
    FileNotFoundError
        The directory does not exist.
    """
    path = _with_suffix(Path(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to {path}: directory {path.parent} does not exist; create it first"
        )
    metadata, arrays = _serialise(obj)
    metadata["arrays"] = {name: _describe(array) for name, array in arrays.items()}
    blob = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    members = {METADATA_KEY: blob, **arrays}
    _write_atomic(path, lambda handle: _write_archive(handle, members))
    return path


def _serialise(obj: RBM | Trainer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if isinstance(obj, Trainer):
        kind, rbm = "trainer", obj.rbm
    elif isinstance(obj, RBM):
        kind, rbm = "rbm", obj
    else:
        raise TypeError(
            f"xprbm.save takes an RBM or a Trainer; got {type(obj).__name__}. "
            "To keep a training run, save rbm.trainer"
        )
    host = rbm._backend.to_numpy
    metadata: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "xprbm_version": __version__,
        "model": {
            "n_visible": rbm.n_visible,
            "n_hidden": rbm.n_hidden,
            "backend": rbm.backend,
            "dtype": rbm.dtype,
            "kernels": rbm.kernels,
            "seed": str(rbm.seed),
            "rng": _rng_state(rbm.rng),
        },
    }
    arrays = {f"model.{name}": np.array(host(value), copy=True)
              for name, value in rbm.parameters().items()}
    if kind == "trainer":
        metadata["trainer"], trainer_arrays = _serialise_trainer(obj, host)
        arrays.update(trainer_arrays)
    return metadata, arrays


def _serialise_trainer(trainer: Trainer,
                       host: Callable[[Any], np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    config = {name: _plain(getattr(trainer.config, name)) for name in CONFIG_FIELDS}
    meta = {
        "config": config,
        "rng": _rng_state(trainer.rng),
        "monitor_rng": _rng_state(trainer.monitor_rng),
        "epoch": int(trainer.epoch),
        "n_updates": int(trainer.n_updates),
        "velocity": None if trainer.velocity is None else sorted(trainer.velocity),
    }
    arrays: dict[str, np.ndarray] = {}
    for name in ("chains", "hidden_chains"):
        value = getattr(trainer, name)
        if value is not None:
            arrays[f"trainer.{name}"] = np.array(host(value), copy=True)
    for name, value in (trainer.velocity or {}).items():
        arrays[f"trainer.velocity.{name}"] = np.array(host(value), copy=True)
    for name in History.columns():
        column = getattr(trainer.history, name)
        dtype = np.int64 if name == "epoch" else np.float64
        arrays[f"history.{name}"] = np.asarray(column, dtype=dtype).reshape(len(column))
    return meta, arrays


def _plain(value: Any) -> Any:
    """A JSON-ready Python value for a setting (NumPy scalars become Python numbers)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def _rng_state(rng: CounterRNG) -> dict[str, Any]:
    return {"key": str(int(rng.key)), "step": int(rng.step)}


def _describe(array: np.ndarray) -> dict[str, Any]:
    return {"shape": list(array.shape), "dtype": array.dtype.str, "sha256": _digest(array)}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _write_archive(handle: Any, members: dict[str, np.ndarray]) -> None:
    """Write ``members`` as an uncompressed ``.npz`` archive into an open binary file."""
    np.savez(handle, **members)


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(handle)`` on a temporary file next to ``path``, sync it, rename it over."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _with_suffix(path: Path) -> Path:
    return path if path.suffix else path.with_name(path.name + ".npz")


def checkpoint_saver(every: int | None, path: PathLike | None
                     ) -> Callable[[Trainer, bool], None] | None:
    """The periodic-checkpoint hook of :meth:`Trainer.run` (None when nothing is to be saved).

    Parameters
    ----------
    every : int or None
        Save after every epoch whose number is a multiple of ``every``.
    path : str, path-like or None
        Checkpoint file (rewritten atomically each time; its directory is created). Required
        with ``every``; alone it saves once, at the end of the run.

    Returns
    -------
    callable or None
        ``hook(trainer, final)``, called after each epoch (``final=False``) and once at the end
        of the run (``final=True``); the final call saves unless the last epoch was just saved.
    """
    if every is not None:
        from .validation import check_positive_int

        every = check_positive_int(every, "checkpoint_every")
        if path is None:
            raise ValueError("checkpoint_every needs checkpoint_path= (the file to write)")
    if path is None:
        return None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    saved_at: list[int] = []

    def hook(trainer: Trainer, final: bool) -> None:
        due = final or (every is not None and trainer.epoch % every == 0)
        if due and trainer.epoch not in saved_at[-1:]:
            save(trainer, path)
            saved_at.append(trainer.epoch)

    return hook


# ----------------------------------------------------------------------------- loading
def resolve_path(path: PathLike) -> Path:
    """``path`` itself, ``path`` + ``".npz"`` when only that exists (as :func:`save` names it),
    or ``path / "checkpoint.npz"`` for a run directory.

    Raises
    ------
    FileNotFoundError
        Neither exists.
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        inside = path / "checkpoint.npz"
        if inside.is_file():
            return inside
        raise FileNotFoundError(f"{path} is a directory without a checkpoint.npz; pass the "
                                "checkpoint file (e.g. runs/NAME/checkpoint.npz)")
    alternative = _with_suffix(path) if path.name else path
    if alternative != path and alternative.is_file():
        return alternative
    raise FileNotFoundError(f"checkpoint not found: {path} (no such file)")


def read_metadata(path: PathLike) -> dict[str, Any]:
    """The checked JSON metadata of a checkpoint (kind, settings, counters, array list).

    Raises
    ------
    CheckpointError
        Not a readable xprbm checkpoint.
    FileNotFoundError
        No such file.
    """
    path = resolve_path(path)
    with _open_archive(path) as archive:
        return _read_metadata(path, archive)


def load(path: PathLike, *, backend: str | None = None) -> RBM | Trainer:
    """Read a model or training state written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        The file (``path + ".npz"`` is tried when ``path`` does not exist).
    backend : {"numpy", "cupy", "auto", "array_api_strict"} or None
        Where to put the arrays. ``None``: the backend it was saved from when available here,
        else NumPy. The kernel setting is kept where it fits the backend, else ``"auto"``.

    Returns
    -------
    RBM or Trainer
        The same kind of object that was saved. A restored Trainer continues training exactly
        as the saved one would have (same backend and kernels); its model is ``trainer.rbm``
        and ``trainer.rbm.trainer is trainer``.

    Raises
    ------
    CheckpointError
        Truncated, corrupted or foreign file, or one written by a newer xprbm.
    FileNotFoundError
        No such file.
    """
    path = resolve_path(path)
    with _open_archive(path) as archive:
        metadata = _read_metadata(path, archive)
        arrays = {name: _read_array(path, archive, name, spec)
                  for name, spec in metadata["arrays"].items()}
    try:
        rbm = _restore_model(metadata["model"], arrays, backend)
        if metadata["kind"] == "rbm":
            return rbm
        return _restore_trainer(rbm, metadata["trainer"], arrays)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{path}: the checkpoint's metadata is incomplete or inconsistent ({exc!r}); "
            "the file is damaged or was not written by xprbm.save"
        ) from exc


@contextlib.contextmanager
def _open_archive(path: Path) -> Any:
    with open(path, "rb") as handle:
        head = handle.read(len(_ZIP_MAGIC))
    if not head:
        raise CheckpointError(f"{path} is empty (0 bytes): a truncated or unfinished checkpoint")
    if head != _ZIP_MAGIC:
        raise CheckpointError(
            f"{path} is not an xprbm checkpoint (not a .npz archive); pass a file written "
            "by xprbm.save or the xprbm command"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError(
            f"{path} is truncated or corrupted (the archive cannot be read: {exc}); "
            "use an earlier checkpoint or retrain"
        ) from exc
    try:
        yield archive
    finally:
        archive.close()


def _read_metadata(path: Path, archive: Any) -> dict[str, Any]:
    if METADATA_KEY not in archive.files:
        raise CheckpointError(
            f"{path} is a .npz archive but not an xprbm checkpoint (no {METADATA_KEY!r} "
            "entry); pass a file written by xprbm.save"
        )
    raw = _read_member(path, archive, METADATA_KEY)
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupted: its metadata is not valid JSON ({exc})") \
            from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise CheckpointError(f"{path} is not an xprbm checkpoint (unknown format {found!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} is corrupted: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer xprbm (checkpoint format {version}; this xprbm "
            f"{__version__} reads up to {FORMAT_VERSION}); upgrade: pip install -U xprbm"
        )
    if metadata.get("kind") not in KINDS or not isinstance(metadata.get("arrays"), dict):
        raise CheckpointError(f"{path} is corrupted: its metadata lacks a valid kind or array list")
    return metadata


def _read_member(path: Path, archive: Any, name: str) -> np.ndarray:
    try:
        value = archive[name]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise CheckpointError(
            f"{path} is truncated or corrupted (entry {name!r} cannot be read: {exc}); "
            "use an earlier checkpoint or retrain"
        ) from exc
    if not isinstance(value, np.ndarray):  # NpzFile hands back raw bytes of non-.npy members
        raise CheckpointError(f"{path} is corrupted: entry {name!r} is not a NumPy array")
    return value


def _read_array(path: Path, archive: Any, name: str, spec: dict[str, Any]) -> np.ndarray:
    if name not in archive.files:
        raise CheckpointError(f"{path} is corrupted: array {name!r} listed in its metadata "
                              "is missing")
    array = _read_member(path, archive, name)
    try:
        expected = (list(spec["shape"]), str(spec["dtype"]), str(spec["sha256"]))
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is corrupted: no description of array {name!r}") from exc
    if [list(array.shape), array.dtype.str] != list(expected[:2]) or (
            _digest(array) != expected[2]):
        raise CheckpointError(
            f"{path} is corrupted: array {name!r} does not match its recorded shape, dtype "
            "and SHA-256; use an earlier checkpoint or retrain"
        )
    return array


def _restore_model(meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   backend: str | None) -> RBM:
    target = _pick_backend(meta["backend"] if backend is None else backend, backend is None)
    kernels = meta["kernels"]
    try:
        from .kernels import resolve_method

        resolve_method(target, kernels)
    except ValueError:
        kernels = "auto"
    rbm = RBM(int(meta["n_visible"]), int(meta["n_hidden"]), backend=target,
              dtype=meta["dtype"], seed=int(meta["seed"]), kernels=kernels)
    for name in rbm.parameters():
        setattr(rbm, name, _to_backend(rbm, arrays[f"model.{name}"]))
    rbm.rng = _counter_rng(meta["rng"])
    return rbm


def _pick_backend(name: str, fall_back: bool) -> Any:
    try:
        return get_backend(name)
    except BackendUnavailableError:
        if not fall_back:
            raise
        return get_backend("numpy")


def _restore_trainer(rbm: RBM, meta: dict[str, Any],
                     arrays: dict[str, np.ndarray]) -> Trainer:
    config = dict(meta["config"])
    unknown = sorted(set(config) - set(CONFIG_FIELDS))
    if unknown:
        raise CheckpointError(
            f"the checkpoint has training settings {unknown} that this xprbm {__version__} "
            "does not know; upgrade: pip install -U xprbm"
        )
    trainer = Trainer(rbm, **config)
    trainer.rng = _counter_rng(meta["rng"])
    trainer.monitor_rng = _counter_rng(meta["monitor_rng"])
    trainer.epoch = int(meta["epoch"])
    trainer.n_updates = int(meta["n_updates"])
    for name in ("chains", "hidden_chains"):
        value = arrays.get(f"trainer.{name}")
        setattr(trainer, name, None if value is None else _to_backend(rbm, value))
    names = meta["velocity"]
    trainer.velocity = None if names is None else {
        name: _to_backend(rbm, arrays[f"trainer.velocity.{name}"]) for name in names}
    trainer.history = _restore_history(arrays)
    trainer._step = None  # fast steps rebuild their buffers from the attributes on first use
    rbm.trainer = trainer
    return trainer


def _restore_history(arrays: dict[str, np.ndarray]) -> History:
    n = len(arrays.get("history.epoch", ()))
    columns = {}
    for name in History.columns():
        column = arrays.get(f"history.{name}")
        if column is None:  # a column added after the file was written
            column = np.full(n, np.nan)
        if len(column) != n:
            raise CheckpointError(f"the checkpoint's history is corrupted: column {name!r} "
                                  f"has {len(column)} entries, expected {n}")
        columns[name] = column.tolist()
    return History(**columns)


def _to_backend(rbm: RBM, array: np.ndarray) -> Any:
    out = rbm._backend.asarray(array, dtype=rbm._dtype)
    return np.array(out, copy=True) if out is array and not array.flags.writeable else out


def _counter_rng(state: dict[str, Any]) -> CounterRNG:
    return CounterRNG(key=int(state["key"]), step=int(state["step"]))
