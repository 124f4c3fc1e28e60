"""Training data read block by block, for data that need not fit in memory.

A :class:`BlockSource` shows a 2-D array as consecutive blocks of rows and loads one block
at a time as a NumPy array. :func:`block_source` builds one for

- a Dask array (its row chunks, split further when a chunk is large),
- a zarr array (whole chunks of rows),
- a NumPy memmap (blocks of about :data:`BLOCK_BYTES`; the pages of each block are handed
  back to the operating system once the block is copied, so that the resident memory of a
  pass over the file stays at a few blocks),
- a SciPy sparse matrix or array (rows densified one block at a time),

and returns None for other arrays (they are in memory already and are used as they are).

How the training loop shuffles such data (see :meth:`xprbm.train.Trainer.run`): each epoch
visits the blocks in a fresh seeded order and fills a buffer of at least ``buffer_rows`` rows
(:data:`BUFFER_BYTES` by default) with the next blocks of that order, then visits the
buffer's rows in a seeded random order. Rows left over from one buffer (fewer than a batch)
start the next one, so an epoch has as many batches as for data in memory. Memory holds one
buffer and the block being read, whatever the size of the data. Without shuffling, the rows
are visited in their stored order, batch for batch as for data in memory.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

#: target size of one block read from a memmap or densified from sparse rows
BLOCK_BYTES = 32 << 20
#: target size of the shuffling buffer of a streamed epoch
BUFFER_BYTES = 64 << 20
#: a Dask chunk larger than this many times BLOCK_BYTES is split into smaller blocks
MAX_CHUNK_FACTOR = 4


class BlockSource:
    """A 2-D array as consecutive blocks of rows, loaded one at a time.

    Parameters
    ----------
    array : object
        The array (kept for :attr:`shape`, :attr:`dtype` and reporting only).
    bounds : sequence of int, shape (n_blocks + 1,)
        Block ``i`` holds rows ``bounds[i]:bounds[i + 1]``; increasing from 0 to ``n_rows``.
    load : callable
        ``load(start, stop)``: rows ``start:stop`` as a NumPy array.
    take : callable
        ``take(rows)``: the rows of a sorted integer array, as a NumPy array.
    kind : str
        What the array is (``"dask"``, ``"zarr"``, ``"memmap"``, ``"sparse"``), for messages.
    buffer_bytes : int
        Target size of the shuffling buffer (see the module docstring).

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy dtype
        Of the loaded blocks.
    bounds : ndarray of int64
    kind : str
    buffer_rows : int
        Rows the training loop gathers before shuffling them (at least one block's worth is
        read either way).
    """

    def __init__(self, array: Any, bounds: Any, load: Callable[[int, int], np.ndarray],
                 take: Callable[[np.ndarray], np.ndarray], kind: str,
                 buffer_bytes: int = BUFFER_BYTES, dtype: Any = None) -> None:
        self.array = array
        self.shape = (int(array.shape[0]), int(array.shape[1]))
        self.dtype = np.dtype(array.dtype if dtype is None else dtype)
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self.kind = kind
        self._load = load
        self._take = take
        row_bytes = max(1, self.shape[1] * self.dtype.itemsize)
        self.buffer_rows = max(1, int(buffer_bytes) // row_bytes)

    @property
    def n_blocks(self) -> int:
        return len(self.bounds) - 1

    def __repr__(self) -> str:
        return f"BlockSource({self.kind}, shape={self.shape}, blocks={self.n_blocks})"

    def block(self, index: int) -> np.ndarray:
        """Rows of block ``index`` as a C-contiguous NumPy array, shape (rows, n_columns)."""
        start, stop = int(self.bounds[index]), int(self.bounds[index + 1])
        return np.ascontiguousarray(self._load(start, stop))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows of the sorted integer array ``rows``, shape (len(rows), n_columns)."""
        return np.ascontiguousarray(self._take(np.asarray(rows, dtype=np.int64)))

    def buffers(self, order: np.ndarray) -> Iterator[list[int]]:
        """Groups of consecutive blocks of ``order`` holding at least ``buffer_rows`` rows
        each (the last group may hold fewer)."""
        group: list[int] = []
        rows = 0
        for index in order:
            group.append(int(index))
            rows += int(self.bounds[index + 1] - self.bounds[index])
            if rows >= self.buffer_rows:
                yield group
                group, rows = [], 0
        if group:
            yield group

    def column_means(self) -> np.ndarray:
        """Mean of each column over all rows (one pass, float64), shape (n_columns,)."""
        total = np.zeros(self.shape[1], dtype=np.float64)
        for index in range(self.n_blocks):
            total += self.block(index).sum(axis=0, dtype=np.float64)
        return total / self.shape[0]


def block_source(X: Any, *, block_bytes: int = BLOCK_BYTES,
                 buffer_bytes: int = BUFFER_BYTES) -> BlockSource | None:
    """A :class:`BlockSource` over ``X``, or None when ``X`` is an array in memory.

    Parameters
    ----------
    X : BlockSource, Dask array, zarr array, numpy.memmap, SciPy sparse matrix, or other
        2-D rows. A BlockSource is returned as it is.
    block_bytes : int
        Target size of a block (memmaps and sparse rows; Dask chunks larger than
        ``MAX_CHUNK_FACTOR`` times this are split).
    buffer_bytes : int
        Target size of the shuffling buffer.

    Returns
    -------
    BlockSource or None

    Raises
    ------
    ValueError
        ``X`` is not 2-D.
    """
    if isinstance(X, BlockSource):
        return X
    kind = data_kind(X)
    if kind is None:
        return None
    if len(X.shape) != 2:
        raise ValueError(f"X must be 2-D with shape (n_samples, n_features); got a {kind} "
                         f"array of shape {tuple(X.shape)}")
    make = {"dask": _dask, "zarr": _zarr, "memmap": _memmap, "sparse": _sparse}[kind]
    return make(X, int(block_bytes), int(buffer_bytes))


def data_kind(X: Any) -> str | None:
    """``"dask"``, ``"zarr"``, ``"memmap"`` or ``"sparse"`` for data that
    :func:`block_source` streams, None for anything else (without importing Dask or zarr)."""
    if isinstance(X, np.memmap):
        return "memmap"
    module = type(X).__module__
    if module.startswith("dask.") and hasattr(X, "chunks") and hasattr(X, "compute"):
        return "dask"
    if module.startswith("zarr.") and hasattr(X, "chunks"):
        return "zarr"
    if module.startswith("scipy.sparse") and hasattr(X, "tocsr"):
        return "sparse"
    return None


def _rows_per_block(n_columns: int, itemsize: int, block_bytes: int) -> int:
    return max(1, block_bytes // max(1, n_columns * itemsize))


def _even_bounds(n_rows: int, rows_per_block: int) -> np.ndarray:
    return np.append(np.arange(0, n_rows, rows_per_block), n_rows)


def _dask(X: Any, block_bytes: int, buffer_bytes: int) -> BlockSource:
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    row_bytes = X.shape[1] * X.dtype.itemsize
    if max(X.chunks[0]) * row_bytes > MAX_CHUNK_FACTOR * block_bytes:
        X = X.rechunk({0: _rows_per_block(X.shape[1], X.dtype.itemsize, block_bytes)})
    bounds = np.concatenate([[0], np.cumsum(X.chunks[0])])

    def load(start: int, stop: int) -> np.ndarray:
        return np.asarray(X[start:stop].compute())

    def take(rows: np.ndarray) -> np.ndarray:
        return np.asarray(X[rows].compute())

    return BlockSource(X, bounds, load, take, "dask", buffer_bytes)


def _zarr(X: Any, block_bytes: int, buffer_bytes: int) -> BlockSource:
    chunk_rows = int(X.chunks[0])
    per_chunk = chunk_rows * X.shape[1] * X.dtype.itemsize
    rows = max(1, block_bytes // max(1, per_chunk)) * chunk_rows

    def load(start: int, stop: int) -> np.ndarray:
        return np.asarray(X[start:stop])

    def take(rows: np.ndarray) -> np.ndarray:
        return np.asarray(X.get_orthogonal_selection((rows, slice(None))))

    return BlockSource(X, _even_bounds(X.shape[0], rows), load, take, "zarr", buffer_bytes)


def _memmap(X: np.memmap, block_bytes: int, buffer_bytes: int) -> BlockSource:
    rows = _rows_per_block(X.shape[1], X.dtype.itemsize, block_bytes)

    def load(start: int, stop: int) -> np.ndarray:
        block = np.array(X[start:stop])
        release_pages(X)
        return block

    def take(rows: np.ndarray) -> np.ndarray:
        picked = np.array(X[rows])
        release_pages(X)
        return picked

    return BlockSource(X, _even_bounds(X.shape[0], rows), load, take, "memmap", buffer_bytes)


def release_pages(X: np.memmap) -> None:
    """Hand the pages of ``X``'s file mapping back to the operating system.

    The data stay in the page cache (a later read is a minor fault, not a disk read), but no
    longer count in this process's resident memory. Copy-on-write maps (``mode="c"``) keep
    their pages, which may hold changes; so do platforms without ``madvise``.
    """
    mapping = getattr(X, "_mmap", None)
    if mapping is None or getattr(X, "mode", "c") == "c" or not hasattr(mapping, "madvise"):
        return
    mapping.madvise(mmap.MADV_DONTNEED)


def _sparse(X: Any, block_bytes: int, buffer_bytes: int) -> BlockSource:
    X = X.tocsr()
    rows = _rows_per_block(X.shape[1], X.dtype.itemsize, block_bytes)

    def load(start: int, stop: int) -> np.ndarray:
        return X[start:stop].toarray()

    def take(rows: np.ndarray) -> np.ndarray:
        return X[rows].toarray()

    return BlockSource(X, _even_bounds(X.shape[0], rows), load, take, "sparse", buffer_bytes)
