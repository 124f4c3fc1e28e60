"""Save and load models and whole training states: one versioned ``.npz`` file per object.

:func:`save` asks the object for its contents (an :class:`~xprbm.RBM` writes its parameters,
settings and sampling stream; a :class:`~xprbm.Trainer` adds its settings, persistent chains,
momentum buffers, random streams, counters and history) and :mod:`xprbm.checkpoint` writes
them atomically; :func:`load` reads and checks a file and hands each part back to its class.

>>> import numpy as np, xprbm, tempfile, os
>>> rbm = xprbm.RBM(6, 3, seed=0)
>>> path = xprbm.save(rbm, os.path.join(tempfile.mkdtemp(), "model"))
>>> path.name
'model.npz'
>>> bool(np.array_equal(xprbm.load(path).weights, rbm.weights))
True
"""

from __future__ import annotations

from pathlib import Path

from . import checkpoint
from .backend import BackendUnavailableError
from .checkpoint import CheckpointError, Contents, PathLike, read_metadata, resolve_path
from .rbm import RBM
from .train import Trainer

__all__ = ["CheckpointError", "load", "read_metadata", "resolve_path", "save"]


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
    if isinstance(obj, Trainer):
        contents = obj.checkpoint_contents()
    elif isinstance(obj, RBM):
        meta, arrays = obj.checkpoint_part()
        contents = Contents("rbm", {"model": meta}, arrays)
    else:
        raise TypeError(
            f"xprbm.save takes an RBM or a Trainer; got {type(obj).__name__}. "
            "To keep a training run, save rbm.trainer"
        )
    return checkpoint.write(path, contents)


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
    path, contents = checkpoint.read(path)
    try:
        rbm = RBM.from_checkpoint(contents.parts.get("model"), contents.arrays, backend)
        if contents.kind == "rbm":
            return rbm
        return Trainer.from_checkpoint(rbm, contents)
    except BackendUnavailableError:
        raise
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    except Exception as exc:  # whatever a damaged part trips over is damage, not a bug
        raise CheckpointError(
            f"{path}: the checkpoint's metadata is incomplete or inconsistent "
            f"({type(exc).__name__}: {exc}); the file is damaged or was not written by "
            "xprbm.save"
        ) from exc
