"""Progress bars that the caller can switch off (tqdm, imported lazily)."""

from __future__ import annotations

import contextlib
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
