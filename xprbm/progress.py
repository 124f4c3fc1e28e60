"""Progress bars that the caller can switch off (tqdm, imported lazily)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any


class _Silent:
    """Stands in for a tqdm bar when progress is off."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def progress_bar(*, total: int, enabled: bool, desc: str, unit: str = "it") -> Iterator[Any]:
    """A tqdm bar on stderr when ``enabled``, else an object with the same few methods."""
    if not enabled:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=True, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


#: a notice appears only when its block runs longer than this (seconds)
NOTICE_AFTER = 0.5
#: what a slow start says while Numba compiles (it caches the result per user)
COMPILING = "compiling kernels (first run only)"
#: the same, for the training update (the largest kernel, compiled once the rows are known)
COMPILING_UPDATE = "compiling the training update (first run only)"


@contextlib.contextmanager
def notice(message: str, *, enabled: bool, after: float = NOTICE_AFTER) -> Iterator[None]:
    """Say ``message`` on stderr if the block is still running after ``after`` seconds, and
    how long it took once it ends; say nothing for a quick block or when not ``enabled``.

    For work that is slow only sometimes (compiling kernels on a first run): a fast block
    stays silent, a slow one is not mistaken for a hang.
    """
    if not enabled:
        yield
        return
    start = time.perf_counter()
    said = threading.Event()

    def say() -> None:
        said.set()
        print(f"{message} ...", end="", file=sys.stderr, flush=True)

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        if said.is_set():
            print(f" done ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
