"""xprbm: Restricted Boltzmann Machines on NumPy (CPU) and CuPy (GPU).

>>> import numpy as np, xprbm
>>> X = (np.random.default_rng(0).random((200, 12)) < 0.3).astype(np.float32)
>>> rbm = xprbm.RBM(12, 5, seed=0)
>>> history = rbm.fit(X, epochs=2, progress=False)
>>> len(history)
2
"""

from . import datasets, plot
from ._version import __version__
from .backend import Backend, BackendUnavailableError, get_backend
from .checkpoint import CheckpointError
from .io import load, save
from .metrics import free_energy_gap, pseudo_log_likelihood, reconstruction_error
from .partition import (
    AISBracket,
    AISReliabilityWarning,
    AISResult,
    ais,
    ais_bracket,
    exact_log_partition,
    log_likelihood,
)
from .rbm import RBM
from .train import History, TrainConfig, Trainer, TrainingDivergedError, TrainState

__all__ = [
    "RBM",
    "AISBracket",
    "AISReliabilityWarning",
    "AISResult",
    "Backend",
    "BackendUnavailableError",
    "CheckpointError",
    "History",
    "TrainConfig",
    "TrainState",
    "TrainingDivergedError",
    "Trainer",
    "__version__",
    "ais",
    "ais_bracket",
    "datasets",
    "exact_log_partition",
    "free_energy_gap",
    "get_backend",
    "load",
    "log_likelihood",
    "plot",
    "pseudo_log_likelihood",
    "reconstruction_error",
    "save",
]
