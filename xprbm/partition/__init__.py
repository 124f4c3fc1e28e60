"""Partition function and log-likelihood: exact enumeration for small layers, AIS otherwise.

- :func:`exact_log_partition` and :func:`log_likelihood` (module :mod:`.exact`)
- :func:`ais` with its :class:`AISResult`, :func:`ais_bracket` (both directions) with its
  :class:`AISBracket`, and :func:`tuned_schedule` (module :mod:`.ais`)
- :func:`ais_schedule`, :func:`ais_defaults` (settings by model size) (module :mod:`.schedule`)
- :class:`AISReliabilityWarning` (module :mod:`.reliability`)
- the annealing path (module :mod:`.path`)
"""

from ..kernels.generic import binary_states
from .ais import AISBracket, AISResult, ais, ais_bracket, tuned_schedule
from .exact import MAX_EXACT_UNITS, exact_log_partition, log_likelihood
from .reliability import AISReliabilityWarning
from .schedule import AISDefaults, ais_defaults, ais_schedule

__all__ = [
    "MAX_EXACT_UNITS",
    "AISBracket",
    "AISDefaults",
    "AISReliabilityWarning",
    "AISResult",
    "ais",
    "ais_bracket",
    "ais_defaults",
    "ais_schedule",
    "binary_states",
    "exact_log_partition",
    "log_likelihood",
    "tuned_schedule",
]
