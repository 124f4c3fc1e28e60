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
import glob
import hashlib
import json
import math
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
    path = target_path(path)
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "kind": contents.kind, "xprbm_version": __version__, **contents.parts,
                "arrays": {name: _describe(array) for name, array in contents.arrays.items()}}
    blob = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    members = {METADATA_KEY: blob, **contents.arrays}
    write_atomic(path, lambda handle: _write_archive(handle, members))
    return path


def target_path(path: PathLike) -> Path:
    """The file a checkpoint written to ``path`` goes to: ``path`` with ``".npz"`` appended
    when its name has no suffix, in a directory that exists.

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory (name the file inside it, e.g. ``DIR/checkpoint.npz``).
    FileNotFoundError
        The directory does not exist.
    """
    given = Path(path)
    if given.is_dir():
        raise IsADirectoryError(f"cannot save to {given}: it is a directory; name a file, "
                                f"e.g. {given / 'checkpoint.npz'}")
    path = with_suffix(given)
    if path.is_dir():
        raise IsADirectoryError(f"cannot save to {path}: it is a directory; name another file")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to {path}: directory {path.parent} does not exist; create it first"
        )
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


def write_atomic(path: Path, write_to: Callable[[Any], None]) -> None:
    """Call ``write_to(handle)`` on a temporary file next to ``path``, sync it, rename it over.

    The rename replaces whatever entry ``path`` is, a symbolic link included (the link's
    target is never written). Temporary files that a killed writer left for ``path`` are
    removed first.
    """
    _remove_orphans(path)
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


def _remove_orphans(path: Path) -> None:
    """Delete ``.NAME.PID.HEX.tmp`` files of ``path`` whose writing process is gone (a writer
    killed mid-save cannot clean up after itself)."""
    if os.name != "posix":
        return
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


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
    alternative = with_suffix(path) if path.name else path
    if path.is_dir():
        inside = path / "checkpoint.npz"
        if inside.is_file():
            return inside
        if alternative != path and alternative.is_file():
            return alternative
        raise FileNotFoundError(f"{path} is a directory without a checkpoint.npz; pass the "
                                "checkpoint file (e.g. runs/NAME/checkpoint.npz)")
    if path.exists():
        raise FileNotFoundError(f"{path} is not a regular file (a device, pipe or socket); "
                                "pass a checkpoint file")
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

    Memory stays bounded by the file's size: every member must be stored uncompressed (as
    :func:`write` stores it), its header must declare the shape and dtype the metadata
    records and exactly the bytes the member holds, and its SHA-256 must match, before the
    array is handed on. Any damage raises :class:`CheckpointError`, nothing else.

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
        arrays = {}
        for name, spec in metadata["arrays"].items():
            arrays[name] = _read_member(path, archive, name, spec)
    parts = {key: value for key, value in metadata.items()
             if key not in ("format", "format_version", "kind", "xprbm_version", "arrays")}
    return path, Contents(metadata["kind"], parts, arrays)


def _damaged(path: Path, what: str, exc: BaseException | None = None) -> CheckpointError:
    detail = "" if exc is None else f" ({type(exc).__name__}: {exc})"
    return CheckpointError(f"{path} is truncated or corrupted: {what}{detail}; use an earlier "
                           "checkpoint or retrain")


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[zipfile.ZipFile]:
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
        archive = zipfile.ZipFile(path)
    except Exception as exc:  # a damaged directory fails in many ways inside zipfile
        raise _damaged(path, "the archive cannot be read", exc) from exc
    try:
        yield archive
    finally:
        archive.close()


def _member_bytes(path: Path, archive: zipfile.ZipFile, name: str) -> tuple[Any, int]:
    """An open stream of member ``name + '.npy'`` and its size, after checking that it is
    stored uncompressed and no larger than the file (so reading it costs bounded memory)."""
    try:
        info = archive.getinfo(name + ".npy")
    except KeyError:
        raise _damaged(path, f"entry {name!r} is missing") from None
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise _damaged(path, f"entry {name!r} is compressed (xprbm stores entries uncompressed)")
    if info.file_size > path.stat().st_size:
        raise _damaged(path, f"entry {name!r} claims {info.file_size} bytes, more than the file")
    try:
        return archive.open(info), info.file_size
    except Exception as exc:
        raise _damaged(path, f"entry {name!r} cannot be opened", exc) from exc


def _read_member(path: Path, archive: zipfile.ZipFile, name: str,
                 spec: dict[str, Any] | None = None) -> np.ndarray:
    """Read the ``.npy`` member ``name``: header first, checked against ``spec`` (shape,
    dtype) and the member's size, then the data (and its SHA-256 when ``spec`` has one)."""
    stream, size = _member_bytes(path, archive, name)
    try:
        with stream:
            version = np.lib.format.read_magic(stream)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unknown .npy version {version}")
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = reader(stream)
            if dtype.hasobject or dtype.kind not in "biuf":
                raise ValueError(f"dtype {dtype} is not a plain number type")
            n_bytes = math.prod(shape) * dtype.itemsize
            if stream.tell() + n_bytes != size:
                raise ValueError(f"header declares {n_bytes} data bytes, the entry has "
                                 f"{size - stream.tell()}")
            if spec is not None and ([list(shape), dtype.str] != [list(spec["shape"]),
                                                                   str(spec["dtype"])]):
                raise ValueError("shape or dtype differ from the metadata's record")
            data = stream.read(n_bytes)
    except CheckpointError:
        raise
    except Exception as exc:
        raise _damaged(path, f"entry {name!r} cannot be read", exc) from exc
    if len(data) != n_bytes:
        raise _damaged(path, f"entry {name!r} is short")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if spec is not None and _digest(array) != str(spec["sha256"]):
        raise CheckpointError(
            f"{path} is corrupted: array {name!r} does not match its recorded SHA-256; use an "
            "earlier checkpoint or retrain"
        )
    return array


def _read_metadata(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    if METADATA_KEY + ".npy" not in archive.namelist():
        raise CheckpointError(
            f"{path} is a .npz archive but not an xprbm checkpoint (no {METADATA_KEY!r} "
            "entry); pass a file written by xprbm.save"
        )
    raw = _read_member(path, archive, METADATA_KEY)
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path} is corrupted: its metadata is not valid JSON ({exc})") \
            from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise CheckpointError(f"{path} is not an xprbm checkpoint (unknown format {found!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path} is corrupted: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer xprbm (checkpoint format {version}; this xprbm "
            f"{__version__} reads up to {FORMAT_VERSION}); upgrade: pip install -U xprbm"
        )
    arrays = metadata.get("arrays")
    if metadata.get("kind") not in KINDS or not isinstance(arrays, dict) or not all(
            isinstance(spec, dict) and isinstance(spec.get("shape"), list)
            and isinstance(spec.get("dtype"), str) and isinstance(spec.get("sha256"), str)
            for spec in arrays.values()):
        raise CheckpointError(f"{path} is corrupted: its metadata lacks a valid kind or array list")
    return metadata


# ----------------------------------------------------------------------- checking parts
def require(condition: bool, message: str) -> None:
    """Raise :class:`CheckpointError` saying ``message`` (what does not fit) unless
    ``condition`` holds: the objects check the parts they read with it."""
    if not condition:
        raise CheckpointError(f"the checkpoint is inconsistent: {message}; the file is damaged "
                              "or was not written by xprbm.save")


def stored_array(arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...], *,
                 values: str = "finite") -> np.ndarray:
    """The stored real array ``name``, checked: ``shape``, a float dtype, and its values
    (``"finite"``, or ``"binary"`` for 0/1 states)."""
    require(name in arrays, f"array {name!r} is missing")
    array = arrays[name]
    require(tuple(array.shape) == tuple(shape),
            f"{name} has shape {tuple(array.shape)}, expected {tuple(shape)}")
    require(array.dtype.kind == "f", f"{name} has dtype {array.dtype}, expected float")
    if values == "binary":
        require(bool(np.all((array == 0) | (array == 1))), f"{name} holds values other than 0/1")
    else:
        require(bool(np.all(np.isfinite(array))), f"{name} holds NaN or infinite values")
    return array


def stored_int(value: Any, name: str, low: int = 0, high: int = 2**63) -> int:
    """An integer of the metadata (``bool`` refused; decimal strings accepted) in
    ``[low, high)``."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    require(isinstance(value, int) and not isinstance(value, bool) and low <= value < high,
            f"{name} is {value!r}, expected an integer in [{low}, {high})")
    return int(value)


def stored_rng(state: Any, name: str) -> CounterRNG:
    """A random stream's state from the metadata, checked (64-bit key, step >= 0)."""
    require(isinstance(state, dict), f"{name} is not a stream state")
    return CounterRNG(key=stored_int(state.get("key"), f"{name} key", 0, 2**64),
                      step=stored_int(state.get("step"), f"{name} step"))
