"""Partition function and log-likelihood: exact enumeration for small layers, AIS otherwise.

- :func:`exact_log_partition` and :func:`log_likelihood` (module :mod:`.exact`)
- :func:`ais` with its :class:`AISResult` and :func:`ais_schedule` (module :mod:`.ais`)
"""

from ..kernels.generic import binary_states
from .ais import AISResult, ais, ais_schedule
from .exact import MAX_EXACT_UNITS, exact_log_partition, log_likelihood

__all__ = [
    "MAX_EXACT_UNITS",
    "AISResult",
    "ais",
    "ais_schedule",
    "binary_states",
    "exact_log_partition",
    "log_likelihood",
]
