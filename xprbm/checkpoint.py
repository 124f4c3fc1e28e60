"""The checkpoint file format: one versioned ``.npz`` archive per saved object.

A checkpoint is an uncompressed NumPy ``.npz`` archive. Besides the arrays (parameters,
persistent chains, momentum buffers, history columns) it holds one member, ``METADATA_KEY``,
with UTF-8 JSON: the format name and version, the kind of object, the parts that each saved
object writes for itself (settings, random streams with their 64-bit keys as decimal strings,
counters), and the shape, dtype and SHA-256 of every array. Reading checks all of it, so a
truncated, corrupted, foreign or newer file fails with :class:`CheckpointError` instead of
yielding half an object.

Files are written atomically: into a temporary file in the target directory, flushed and
synced to disk, then renamed over the target. A crash during a write leaves the previous
checkpoint intact.

This module knows files only; what goes into them is decided by the objects
(``RBM`` and ``Trainer`` write and read their own parts) and :mod:`xprbm.io` dispatches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .rng import CounterRNG

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


@dataclass
class Contents:
    """What one checkpoint holds: its kind, the objects' metadata parts and the arrays.

    Attributes
    ----------
    kind : {"rbm", "trainer"}
    parts : dict
        JSON-ready metadata by part (``"model"``, and ``"trainer"`` for a training state).
    arrays : dict of str to ndarray
        Host arrays by member name (``"model.weights"``, ``"trainer.chains"``, ...).
    """

    kind: str
    parts: dict[str, Any]
    arrays: dict[str, np.ndarray]


# ------------------------------------------------------------------------------ writing
def write(path: PathLike, contents: Contents) -> Path:
    """Write ``contents`` to ``path`` atomically (``".npz"`` appended without a suffix).

    Raises
    ------
    FileNotFoundError
        The directory does not exist.
    """
    path = with_suffix(Path(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to {path}: directory {path.parent} does not exist; create it first"
        )
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "kind": contents.kind, "xprbm_version": __version__, **contents.parts,
                "arrays": {name: _describe(array) for name, array in contents.arrays.items()}}
    blob = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    members = {METADATA_KEY: blob, **contents.arrays}
    _write_atomic(path, lambda handle: _write_archive(handle, members))
    return path


def _write_archive(handle: Any, members: dict[str, np.ndarray]) -> None:
    """Write ``members`` as an uncompressed ``.npz`` archive into an open binary file."""
    np.savez(handle, **members)


def plain(value: Any) -> Any:
    """A JSON-ready Python value for a setting (NumPy scalars become Python numbers)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def rng_state(rng: CounterRNG) -> dict[str, Any]:
    """A stream's state for the metadata: the 64-bit key as a decimal string (exact in JSON)."""
    return {"key": str(int(rng.key)), "step": int(rng.step)}


def _describe(array: np.ndarray) -> dict[str, Any]:
    return {"shape": list(array.shape), "dtype": array.dtype.str, "sha256": _digest(array)}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _write_atomic(path: Path, write_to: Callable[[Any], None]) -> None:
    """Call ``write_to(handle)`` on a temporary file next to ``path``, sync it, rename it over."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write_to(handle)
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


def with_suffix(path: Path) -> Path:
    """``path`` with ``".npz"`` appended when its name has no suffix."""
    return path if path.suffix else path.with_name(path.name + ".npz")


# ------------------------------------------------------------------------------ reading
def resolve_path(path: PathLike) -> Path:
    """``path`` itself, ``path`` + ``".npz"`` when only that exists (as :func:`write` names
    it), or ``path / "checkpoint.npz"`` for a run directory.

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
    alternative = with_suffix(path) if path.name else path
    if alternative != path and alternative.is_file():
        return alternative
    raise FileNotFoundError(f"checkpoint not found: {path} (no such file)")


def read_metadata(path: PathLike) -> dict[str, Any]:
    """The checked JSON metadata of a checkpoint (kind, parts, array list).

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


def read(path: PathLike) -> tuple[Path, Contents]:
    """The checked contents of the checkpoint at ``path`` and the file they came from.

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
    parts = {key: value for key, value in metadata.items()
             if key not in ("format", "format_version", "kind", "xprbm_version", "arrays")}
    return path, Contents(metadata["kind"], parts, arrays)


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[Any]:
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
