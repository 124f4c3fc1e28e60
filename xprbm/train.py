"""CD-k and PCD-k training: the settings table, one explicit training state, and the loop.

The update ascends the log-likelihood: data expectation (with p(h|v) of the batch) minus model
expectation (p(h|v) of the chains after k block Gibbs steps). With momentum ``m``, learning
rate ``lr`` and weight decay ``d`` (weights only)::

    velocity = m * velocity + lr * (gradient - d * parameter);  parameter += velocity

- :class:`TrainConfig` declares every training setting once, with its default and help; the
  command line derives its flags from it (:data:`SETTINGS`).
- :class:`TrainState` owns every array and counter that outlives an update: momentum
  buffers, persistent chains, random streams, counters and the history. It writes and reads
  its own part of a checkpoint.
- :class:`Trainer` runs epochs: it hands the state's arrays to an update object of
  :mod:`xprbm.kernels` (generic, Numba or CuPy, chosen by the dispatcher) and keeps the
  model's parameters in the model.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernels
from .blocks import BlockSource, block_source
from .checkpoint import (
    CheckpointError,
    Contents,
    plain,
    require,
    rng_state,
    stored_array,
    stored_int,
    stored_rng,
    target_path,
)
from .checkpoint import write as write_checkpoint
from .datasets import fingerprint, held_out_rows
from .kernels import UpdateLayout, UpdateSettings, generic, tempering
from .metrics import monitor
from .progress import progress_bar
from .rng import CounterRNG
from .sampling import independent_visible
from .validation import check_int, check_positive_int, check_range

if TYPE_CHECKING:
    from .rbm import RBM

METHODS = ("pcd", "cd", "pt")
VISIBLE_BIAS_INITS = ("data", "zeros")
#: how the learning rate changes over the epochs (see :meth:`TrainConfig.learning_rate_at`)
LEARNING_RATE_SCHEDULES = ("constant", "linear", "exponential")
#: the settings of the learning rate, which ``RBM.partial_fit`` may change between calls
LEARNING_RATE_FIELDS = ("learning_rate", "learning_rate_schedule", "final_learning_rate",
                        "schedule_epochs")
#: data means are clipped to [eps, 1 - eps] before the log-odds of the visible-bias init
DATA_MEAN_EPS = 1e-3
#: the per-epoch metrics use this fraction of the rows, at least MONITOR_MIN_ROWS of them
#: (the one-flip pseudo-likelihood is noisy on fewer) and at most ``monitor_size``
MONITOR_FRACTION = 0.05
MONITOR_MIN_ROWS = 500
#: how fast centring offsets follow the batch means (the sliding factor of Melchior et al.)
OFFSET_RATE = 0.01
#: hidden offsets at the start of a centred run (Melchior, Fischer & Wiskott 2016)
HIDDEN_OFFSET_INIT = 0.5


#: the largest learning rate accepted: one update could move a weight by this much, which
#: saturates every sigmoid (gradients of the mean-batch step lie in [-1, 1])
MAX_LEARNING_RATE = 100.0


class TrainingDivergedError(RuntimeError):
    """Training produced NaN or infinite parameters; the model and its training state were put
    back to the last epoch whose parameters were finite (``epoch``)."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch


@dataclass(frozen=True)
class Setting:
    """One training setting as the API and the command line both show it.

    Attributes
    ----------
    name : str
        Keyword of ``fit`` / :class:`TrainConfig`, and ``dest`` of the command-line flag.
    default : object
        The API's default.
    help : str
    flags : tuple of str
        Command-line spellings, the first one shown in ``--help``.
    metavar : str or None
    kind : {"int", "float", "bool", "str"}
        How the command line parses it (ints are positive, strs take ``choices``).
    choices : tuple or None
    minimum : int
        The smallest value of an ``"int"`` setting (1, or 0 where 0 means "none").
    cli_default : object
        The command line's default, where it differs on purpose (``cli_reason`` says why).
    cli_reason : str
    """

    name: str
    default: Any
    help: str
    flags: tuple[str, ...]
    metavar: str | None = None
    kind: str = "str"
    choices: tuple | None = None
    minimum: int = 1
    cli_default: Any = None
    cli_reason: str = ""

    @property
    def command_line_default(self) -> Any:
        return self.default if not self.cli_reason else self.cli_default


def _setting(default: Any, help_text: str, *flags: str, metavar: str | None = None,
             choices: tuple | None = None, minimum: int = 1, cli_default: Any = None,
             cli_reason: str = "") -> Any:
    """A dataclass field of :class:`TrainConfig` that carries its :class:`Setting`."""
    entry = dict(default=default, help=help_text, flags=flags, metavar=metavar,
                 choices=choices, minimum=minimum, cli_default=cli_default,
                 cli_reason=cli_reason)
    return field(default=default, metadata={"setting": entry})


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (checked on creation); see :data:`SETTINGS` for each one's
    help text.

    Parameters
    ----------
    method : {"pcd", "cd", "pt"}
        Persistent contrastive divergence (chains survive across updates), CD (chains
        restart at the batch) or parallel tempering (persistent chains, each with replicas
        at ``n_temperatures`` inverse temperatures from 1 down to ``min_beta`` that swap
        states; the negative phase comes from the replicas at β = 1; see
        :mod:`xprbm.kernels.tempering`).
    k : int
        Block Gibbs steps per update (PT: sweeps of every replica, each with its swaps).
    n_chains : int or None
        Persistent chains for PCD and PT (default: ``batch_size``); CD uses one chain per row.
    centered : bool
        Centred gradients (Montavon & Mueller 2012; Melchior, Fischer & Wiskott 2016): the
        gradient of the energy with the units shifted by offsets, running means of the data
        (visible) and of its hidden probabilities (hidden), which move by ``OFFSET_RATE``
        towards each batch's means. The parameters stay those of the ordinary RBM, so the
        model means the same; only the training steps differ. On by default: on the fair
        MNIST split a 784x16 model reaches a held-out log-likelihood of -153.8 nats (mean of
        seeds 0-2) against -164.4 uncentred with momentum 0.5 (50 epochs, lr 0.01;
        ``bench/quality.py``).
    n_temperatures : int
        Replicas per chain of parallel tempering (``method="pt"``).
    min_beta : float in (0, 1)
        Inverse temperature of the hottest replica; the ladder is geometric
        (:func:`xprbm.kernels.tempering.ladder`).
    batch_size : int
        Rows per update; a short last batch is averaged over its own size.
    learning_rate : float
    momentum : float in [0, 1)
        0.7 by default, chosen for centred training (``bench/quality.py``,
        ``bench/demo_quality.py``).
    weight_decay : float >= 0
        L2 penalty on the weights.
    shuffle : bool
        Visit the rows in a fresh seeded order each epoch.
    init_visible_bias : {"data", "zeros"}
        Visible bias set when a run starts on a model that has not been trained yet
        (``rbm.trained`` is False: a fresh :class:`~xprbm.RBM`): ``"data"`` gives
        ``b = log(p / (1 - p))`` of the data means clipped to [1e-3, 1 - 1e-3] (Hinton's
        guide); ``"zeros"`` gives ``b = 0``. A trained model keeps its visible bias, so that a
        second ``fit`` continues from the learned parameters.
    monitor_size : int >= 0
        Upper bound on the rows used for the per-epoch metrics; 0 switches them off (the
        history records NaN for them, and an epoch costs only its updates).
    learning_rate_schedule : {"constant", "linear", "exponential"}
        ``"constant"``: every epoch uses ``learning_rate``. ``"linear"`` / ``"exponential"``:
        the rate goes from ``learning_rate`` in the first epoch to ``final_learning_rate`` in
        epoch ``schedule_epochs`` along a straight line / a geometric progression, and stays
        there (:meth:`learning_rate_at`). The rate is constant within an epoch and follows
        from the run's epoch counter, so a run resumed from a checkpoint continues the same
        schedule bit for bit.
    final_learning_rate : float in (0, MAX_LEARNING_RATE] or None
        The rate a linear or exponential schedule reaches (required by them, refused by
        ``"constant"``). It may be larger than ``learning_rate`` (a warm-up).
    schedule_epochs : int >= 1 or None
        The epoch (counted from the start of the run, 1 for the first) that trains at
        ``final_learning_rate``. None: the last epoch of the first ``run`` / ``fit`` call of
        the training state, recorded in the state and its checkpoints (on the command line:
        ``--epochs`` of the run that started it; ``--resume`` with more epochs holds the
        final rate after it). Refused with ``"constant"``.
    """

    method: str = _setting("pcd", "persistent chains (pcd) or chains from the batch (cd)",
                           "--method", choices=METHODS)
    k: int = _setting(1, "Gibbs steps per update", "--k", metavar="K")
    n_chains: int | None = _setting(None, "persistent chains (default: the batch size)",
                                    "--n-chains", metavar="N")
    centered: bool = _setting(True, "centred gradients (offsets: running means of the units)",
                              "--centered")
    n_temperatures: int = _setting(tempering.DEFAULT_TEMPERATURES,
                                   "replicas per chain of parallel tempering (method pt)",
                                   "--n-temperatures", metavar="R")
    min_beta: float = _setting(tempering.DEFAULT_MIN_BETA,
                               "inverse temperature of the hottest PT replica",
                               "--min-beta", metavar="BETA")
    batch_size: int = _setting(100, "rows per update", "--batch-size", metavar="N")
    learning_rate: float = _setting(0.01, "learning rate", "--learning-rate", "--lr",
                                    metavar="LR")
    momentum: float = _setting(0.7, "momentum", "--momentum", metavar="M")
    weight_decay: float = _setting(
        0.0, "L2 penalty on the weights", "--weight-decay", metavar="D", cli_default=1e-4,
        cli_reason="the demo's recipe for a whole run (bench/demo_quality.py), with the decaying "
        "rate")
    shuffle: bool = _setting(True, "visit the rows in a fresh seeded order each epoch",
                             "--shuffle")
    init_visible_bias: str = _setting(
        "data", "visible biases of a model not trained yet (a trained one keeps its own): "
        "log-odds of the data means, or zeros",
        "--init-visible-bias", choices=VISIBLE_BIAS_INITS)
    monitor_size: int = _setting(1000, "most rows the per-epoch metrics use (0: none)",
                                 "--monitor-size", metavar="N", minimum=0)
    learning_rate_schedule: str = _setting(
        "constant", "learning rate over the epochs: constant, or a linear or exponential change "
        "to the final learning rate", "--learning-rate-schedule", "--lr-schedule",
        choices=LEARNING_RATE_SCHEDULES, cli_default="linear",
        cli_reason="a command-line run is a whole experiment, and a rate decaying over it "
        "gives a model whose samples cover every digit (bench/demo_quality.py)")
    final_learning_rate: float | None = _setting(
        None, "learning rate that a linear or exponential schedule reaches (required by them)",
        "--final-learning-rate", "--final-lr", metavar="LR", cli_default=0.001,
        cli_reason="a tenth of --learning-rate (0.001 at the default rate) when not given, "
        "for the default linear schedule; --lr-schedule constant drops it")
    schedule_epochs: int | None = _setting(
        None, "epoch that trains at the final learning rate, held after it (default: the last "
        "epoch of the run's first call; on the command line --epochs of the run that started "
        "it)", "--schedule-epochs", metavar="N")

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.init_visible_bias not in VISIBLE_BIAS_INITS:
            raise ValueError(
                f"init_visible_bias must be one of {VISIBLE_BIAS_INITS}; "
                f"got {self.init_visible_bias!r}"
            )
        check_positive_int(self.k, "k")
        check_positive_int(self.n_temperatures, "n_temperatures")
        check_range(self.min_beta, "min_beta", 0.0, 1.0, low_open=True, high_open=True)
        if not isinstance(self.centered, (bool, np.bool_)):
            raise TypeError(f"centered must be True or False; got {self.centered!r}")
        check_positive_int(self.batch_size, "batch_size")
        check_int(self.monitor_size, "monitor_size", 0)
        if self.n_chains is not None:
            check_positive_int(self.n_chains, "n_chains")
        check_range(self.learning_rate, "learning_rate", 0.0, MAX_LEARNING_RATE, low_open=True)
        check_range(self.momentum, "momentum", 0.0, 1.0, high_open=True)
        check_range(self.weight_decay, "weight_decay", 0.0, math.inf, high_open=True)
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {self.shuffle!r}")
        self._check_schedule()

    def _check_schedule(self) -> None:
        """The learning-rate schedule's settings, or an error that says what to pass."""
        schedule = self.learning_rate_schedule
        if schedule not in LEARNING_RATE_SCHEDULES:
            raise ValueError(f"learning_rate_schedule must be one of {LEARNING_RATE_SCHEDULES}; "
                             f"got {schedule!r}")
        if schedule == "constant":
            extra = [name for name in ("final_learning_rate", "schedule_epochs")
                     if getattr(self, name) is not None]
            if extra:
                raise ValueError(
                    f"{' and '.join(extra)} take effect only with a decaying learning rate; "
                    "pass learning_rate_schedule='linear' or 'exponential' (--lr-schedule), or "
                    f"leave {' and '.join(extra)} out (None)")
            return
        if self.final_learning_rate is None:
            raise ValueError(f"learning_rate_schedule={schedule!r} needs final_learning_rate "
                             "(--final-lr), the rate it reaches at schedule_epochs")
        check_range(self.final_learning_rate, "final_learning_rate", 0.0, MAX_LEARNING_RATE,
                    low_open=True)
        if self.schedule_epochs is not None:
            check_positive_int(self.schedule_epochs, "schedule_epochs")

    @property
    def chains(self) -> int:
        """Number of persistent chains (PCD, PT)."""
        return self.batch_size if self.n_chains is None else self.n_chains

    @property
    def chain_rows(self) -> int | None:
        """Rows of the persistent visible states (PT: every replica); None for CD."""
        if self.method == "cd":
            return None
        return self.chains * (self.n_temperatures if self.method == "pt" else 1)

    def layout(self, n_visible: int, n_hidden: int) -> UpdateLayout:
        """The sizes an update object is built for."""
        pt = self.method == "pt"
        return UpdateLayout(n_visible, n_hidden, self.method, self.batch_size, self.chains,
                            self.centered, self.n_temperatures if pt else 1,
                            self.min_beta if pt else 1.0)

    def update_settings(self, learning_rate: float | None = None) -> UpdateSettings:
        """The numbers one update uses (``learning_rate``: the epoch's rate of the schedule,
        default ``self.learning_rate``)."""
        rate = self.learning_rate if learning_rate is None else learning_rate
        return UpdateSettings(self.k, rate, self.momentum, self.weight_decay,
                              OFFSET_RATE if self.centered else 0.0)

    def learning_rate_at(self, epoch: int, schedule_end: int | None = None) -> float:
        """The learning rate of epoch ``epoch`` (1 for the first of the run).

        With ``T = schedule_epochs`` (or ``schedule_end`` when that is None) and
        ``f = min(1, (epoch - 1) / (T - 1))`` (1 when ``T`` is 1), a linear schedule gives
        ``lr + f * (final - lr)`` and an exponential one ``lr * (final / lr) ** f``; from
        epoch ``T`` on both give ``final_learning_rate`` exactly, and ``"constant"`` always
        gives ``learning_rate``.

        Parameters
        ----------
        epoch : int >= 1
        schedule_end : int or None
            The run's default end of the schedule (:attr:`TrainState.schedule_end`).

        Returns
        -------
        float

        Raises
        ------
        ValueError
            A decaying schedule whose end is not known yet (no ``schedule_epochs`` and no
            ``schedule_end``).
        """
        if self.learning_rate_schedule == "constant":
            return self.learning_rate
        epoch = check_positive_int(epoch, "epoch")
        end = self.schedule_epochs if self.schedule_epochs is not None else schedule_end
        if end is None:
            raise ValueError("the learning-rate schedule ends at the last epoch of the run's "
                             "first call, which has not happened yet; pass schedule_epochs")
        if epoch >= end:
            return float(self.final_learning_rate)
        start, final = float(self.learning_rate), float(self.final_learning_rate)
        fraction = (epoch - 1) / (end - 1)
        if self.learning_rate_schedule == "linear":
            return start + fraction * (final - start)
        return start * (final / start) ** fraction


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
#: every training setting by name: the API's default, help and command-line spelling
SETTINGS: dict[str, Setting] = {
    f.name: Setting(name=f.name, kind=str(f.type).split(" |")[0], **f.metadata["setting"])
    for f in dataclasses.fields(TrainConfig)
}
#: epochs of one ``Trainer.run`` / ``fit`` call (the command line trains longer by default)
SETTINGS["epochs"] = Setting(
    "epochs", 10, "epochs to train; with --resume the epoch to reach", ("--epochs",), "N",
    kind="int", cli_default=20,
    cli_reason="a command-line run is a whole experiment, not one call of several")
#: settings whose default differs from how runs were trained before the setting existed: a
#: checkpoint without them resumes as it was trained
SETTINGS_BEFORE_THEY_EXISTED = {"centered": False}
RUN_FIELDS = (
    "epochs", "validation", "progress", "callback", "checkpoint_every", "checkpoint_path",
    "new_data", "binary",
)


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``fit`` keyword arguments into config and run options; refuse unknown names."""
    unknown = sorted(set(options) - set(CONFIG_FIELDS) - set(RUN_FIELDS) - {"seed"})
    if unknown:
        raise TypeError(
            f"unknown training option(s) {unknown}; valid: {sorted(CONFIG_FIELDS + RUN_FIELDS)}"
        )
    config = {k: v for k, v in options.items() if k not in RUN_FIELDS}
    run = {k: v for k, v in options.items() if k in RUN_FIELDS}
    return config, run


@dataclass
class History:
    """Per-epoch metrics of a run.

    Attributes
    ----------
    epoch : list of int
    train_pll_per_unit, valid_pll_per_unit : list of float
        Mean pseudo-log-likelihood per visible unit: :func:`xprbm.pseudo_log_likelihood`
        (a per-sample total) divided by ``n_visible`` (NaN without validation data).
    recon_error : list of float
        Mean squared reconstruction error on the monitored training rows.
    free_energy_gap : list of float
        Mean F(validation) − mean F(training subset of the same size) (NaN without validation).
    seconds : list of float
        Wall time of the epoch's updates (monitoring excluded).
    """

    epoch: list[int] = field(default_factory=list)
    train_pll_per_unit: list[float] = field(default_factory=list)
    valid_pll_per_unit: list[float] = field(default_factory=list)
    recon_error: list[float] = field(default_factory=list)
    free_energy_gap: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    #: names of renamed columns inside checkpoint files (format 1 keeps the old names)
    FILE_NAMES = {"train_pll_per_unit": "train_pll", "valid_pll_per_unit": "valid_pll"}

    def append(self, **row: float) -> None:
        for name in self.columns():
            getattr(self, name).append(row[name])

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def as_dict(self) -> dict[str, list]:
        """Columns as lists (JSON-ready)."""
        return {name: list(getattr(self, name)) for name in self.columns()}

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def train_pll(self) -> list[float]:
        """Deprecated name of :attr:`train_pll_per_unit`."""
        warnings.warn("History.train_pll is now History.train_pll_per_unit (a per-unit "
                      "mean, unlike pseudo_log_likelihood's per-sample totals)",
                      DeprecationWarning, stacklevel=2)
        return self.train_pll_per_unit

    @property
    def valid_pll(self) -> list[float]:
        """Deprecated name of :attr:`valid_pll_per_unit`."""
        warnings.warn("History.valid_pll is now History.valid_pll_per_unit",
                      DeprecationWarning, stacklevel=2)
        return self.valid_pll_per_unit

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        """The columns as checkpoint members ``history.NAME`` (int64 epochs, float64 rest)."""
        arrays = {}
        for name in self.columns():
            column = getattr(self, name)
            dtype = np.int64 if name == "epoch" else np.float64
            member = self.FILE_NAMES.get(name, name)
            arrays[f"history.{member}"] = np.asarray(column, dtype=dtype).reshape(len(column))
        return arrays

    @classmethod
    def from_checkpoint(cls, arrays: dict[str, np.ndarray]) -> History:
        """The history stored in a checkpoint's arrays (columns it lacks are NaN)."""
        n = len(arrays.get("history.epoch", ()))
        columns = {}
        for name in cls.columns():
            column = arrays.get(f"history.{cls.FILE_NAMES.get(name, name)}")
            if column is None:  # a column added after the file was written
                column = np.full(n, np.nan)
            require(column.shape == (n,), f"history column {name!r} has shape "
                    f"{column.shape}, expected ({n},)")
            columns[name] = column.tolist()
        return cls(**columns)


@dataclass
class TrainState:
    """Every array and counter of a run that outlives an update.

    Attributes
    ----------
    rng, monitor_rng : CounterRNG
        Streams for the updates and for the metrics (so monitoring never changes training).
    velocity : dict of arrays or None
        Momentum buffers, one per parameter (None until the first epoch starts).
    chains : array, shape (n_chains, n_visible), or None
        Persistent visible chains (PCD); for PT every replica, shape
        (n_temperatures * n_chains, n_visible), replica-major, β = 1 first.
    hidden_chains : array, shape (n_chains, n_hidden), or None
        Hidden states drawn from ``chains`` at the end of the latest update (PCD).
    swaps : SwapRecord or None
        PT's swap counts and sweep counter (:class:`xprbm.kernels.tempering.SwapRecord`).
    offsets : dict of arrays or None
        Centring offsets ``visible`` (n_visible,) and ``hidden`` (n_hidden,).
    epoch, n_updates : int
    history : History
    data_fingerprint : str or None
        :func:`xprbm.datasets.fingerprint` of the rows the latest run trained on.
    schedule_end : int or None
        The last epoch of the state's first run (None before it; checkpoints written before
        it existed leave it to the next run): where a learning-rate schedule without
        ``schedule_epochs`` reaches its final rate.
    """

    rng: CounterRNG
    monitor_rng: CounterRNG
    velocity: dict[str, Any] | None = None
    chains: Any = None
    hidden_chains: Any = None
    swaps: tempering.SwapRecord | None = None
    offsets: dict[str, Any] | None = None
    epoch: int = 0
    n_updates: int = 0
    history: History = field(default_factory=History)
    data_fingerprint: str | None = None
    schedule_end: int | None = None
    #: restored from a checkpoint and not run since: the next run checks its data
    resumed: bool = field(default=False, compare=False)

    def copy(self, copy_array: Callable[[Any], Any]) -> TrainState:
        """An independent copy (arrays copied by ``copy_array``, streams and history too)."""
        def maybe(x: Any) -> Any:
            return None if x is None else copy_array(x)

        return TrainState(
            rng=CounterRNG(self.rng.key, self.rng.step),
            monitor_rng=CounterRNG(self.monitor_rng.key, self.monitor_rng.step),
            velocity=None if self.velocity is None else {
                name: copy_array(value) for name, value in self.velocity.items()},
            chains=maybe(self.chains), hidden_chains=maybe(self.hidden_chains),
            swaps=None if self.swaps is None else self.swaps.copy(),
            offsets=None if self.offsets is None else {
                name: copy_array(value) for name, value in self.offsets.items()},
            epoch=self.epoch, n_updates=self.n_updates,
            history=History(**self.history.as_dict()), data_fingerprint=self.data_fingerprint,
            schedule_end=self.schedule_end)

    def checkpoint_part(self, host: Callable[[Any], np.ndarray]
                        ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-ready metadata and host arrays (``trainer.*``, ``history.*``) of the state."""
        meta = {
            "rng": rng_state(self.rng),
            "monitor_rng": rng_state(self.monitor_rng),
            "epoch": int(self.epoch),
            "n_updates": int(self.n_updates),
            "velocity": None if self.velocity is None else sorted(self.velocity),
        }
        if self.data_fingerprint is not None:
            meta["data_fingerprint"] = self.data_fingerprint
        if self.swaps is not None:
            meta["swaps"] = self.swaps.as_meta()
        if self.schedule_end is not None:
            meta["schedule_end"] = int(self.schedule_end)
        arrays = {}
        for name, value in (self.offsets or {}).items():
            arrays[f"trainer.offsets.{name}"] = np.array(host(value), copy=True)
        for name in ("chains", "hidden_chains"):
            value = getattr(self, name)
            if value is not None:
                arrays[f"trainer.{name}"] = np.array(host(value), copy=True)
        for name, value in (self.velocity or {}).items():
            arrays[f"trainer.velocity.{name}"] = np.array(host(value), copy=True)
        arrays.update(self.history.checkpoint_arrays())
        return meta, arrays

    @classmethod
    def from_checkpoint(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                        to_model: Callable[[np.ndarray], Any], shapes: dict[str, tuple],
                        config: TrainConfig) -> TrainState:
        """The state a checkpoint part describes, checked and moved by ``to_model``.

        Parameters
        ----------
        meta, arrays
            The ``"trainer"`` part and the checkpoint's arrays.
        to_model : callable
            Host array -> array of the model's backend and dtype.
        shapes : dict
            The parameters' shapes (velocities have the same).
        config : TrainConfig
            The run's settings (which chains, replicas and offsets it keeps).

        Raises
        ------
        CheckpointError
            Anything that does not fit: shapes, values, counters, history.
        """
        names = meta.get("velocity")
        require(names is None or sorted(names) == sorted(shapes),
                f"velocity names {names!r}, expected {sorted(shapes)}")
        started = names is not None
        velocity = None if not started else {
            name: to_model(stored_array(arrays, f"trainer.velocity.{name}", shapes[name]))
            for name in names}
        rows = config.chain_rows
        expected = {"chains": (rows, shapes["visible_bias"]),
                    "hidden_chains": (config.chains if config.method == "pcd" else None,
                                      shapes["hidden_bias"])}
        chains = {}
        for name, (n_rows, width) in expected.items():
            stored = f"trainer.{name}" in arrays
            require(stored == (started and n_rows is not None),
                    f"{name} {'present' if stored else 'missing'} for this run's settings")
            chains[name] = None if not stored else to_model(stored_array(
                arrays, f"trainer.{name}", (n_rows, *width), values="binary"))
        offsets = None
        require(("trainer.offsets.visible" in arrays) == (config.centered and started),
                "centring offsets present or missing against this run's settings")
        if config.centered and started:
            offsets = {name: to_model(stored_array(arrays, f"trainer.offsets.{name}",
                                                   shapes[f"{name}_bias"]))
                       for name in ("visible", "hidden")}
        swaps = None
        require(("swaps" in meta) == (config.method == "pt" and started),
                "swap record present or missing against this run's settings")
        if "swaps" in meta:
            try:
                swaps = tempering.SwapRecord.from_meta(meta["swaps"], config.n_temperatures - 1)
            except ValueError as exc:
                raise CheckpointError(f"damaged checkpoint: {exc}") from exc
        epoch = stored_int(meta.get("epoch"), "epoch")
        fingerprint = meta.get("data_fingerprint")  # absent from files of before it existed
        require(fingerprint is None or (isinstance(fingerprint, str) and len(fingerprint) == 64),
                f"data fingerprint {fingerprint!r}")
        history = History.from_checkpoint(arrays)
        require(len(history) == epoch, f"the history has {len(history)} epochs, the counter "
                f"{epoch}")
        schedule_end = meta.get("schedule_end")  # absent from files of before it existed
        if schedule_end is not None:
            schedule_end = stored_int(schedule_end, "schedule_end", 1)
        return cls(
            rng=stored_rng(meta.get("rng"), "rng"),
            monitor_rng=stored_rng(meta.get("monitor_rng"), "monitor_rng"),
            velocity=velocity, **chains, swaps=swaps, offsets=offsets, epoch=epoch,
            n_updates=stored_int(meta.get("n_updates"), "n_updates"), history=history,
            data_fingerprint=fingerprint, schedule_end=schedule_end, resumed=True)


class _StateField:
    """``trainer.NAME`` reads and writes ``trainer.state.NAME`` (the state is the owner)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        return self if trainer is None else getattr(trainer.state, self.name)

    def __set__(self, trainer: Any, value: Any) -> None:
        setattr(trainer.state, self.name, value)


class _CopiedStateField(_StateField):
    """``trainer.NAME`` reads a copy of ``trainer.state.NAME`` (None stays None) and writes
    the state's array."""

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        if trainer is None:
            return self
        value = getattr(trainer.state, self.name)
        return None if value is None else trainer.rbm.array_backend.copy(value)


class Trainer:
    """A training run: its settings, its :class:`TrainState`, and the loop over epochs.

    Parameters
    ----------
    rbm : RBM
        The model whose parameters are trained in place.
    seed : int or None
        Seed of the training streams (default: the model's seed).
    **config
        :class:`TrainConfig` settings.

    Attributes
    ----------
    rbm : RBM
    config : TrainConfig
    state : TrainState
        Also readable as ``trainer.velocity``, ``trainer.chains``, ``trainer.hidden_chains``,
        ``trainer.rng``, ``trainer.monitor_rng``, ``trainer.epoch``, ``trainer.n_updates``
        and ``trainer.history``. ``trainer.chains`` and ``trainer.hidden_chains`` are copies
        (holding on to one never sees later training change it); the arrays that training
        updates in place are ``trainer.state.chains`` and ``trainer.state.hidden_chains``.
        Assigning ``trainer.chains = ...`` sets the state's array.

    Notes
    -----
    To change the learning rate between runs, replace the settings:
    ``trainer.config = dataclasses.replace(trainer.config, learning_rate=0.001)``
    (:meth:`xprbm.RBM.partial_fit` does it when given another rate), or give the run a
    schedule (``learning_rate_schedule``).
    """

    velocity = _StateField()
    chains = _CopiedStateField()
    hidden_chains = _CopiedStateField()
    rng = _StateField()
    monitor_rng = _StateField()
    epoch = _StateField()
    n_updates = _StateField()
    history = _StateField()

    def __init__(self, rbm: RBM, *, seed: int | None = None, **config: Any) -> None:
        self.rbm = rbm
        self.config = TrainConfig(**config)
        seed = rbm.seed if seed is None else seed
        self.state = TrainState(rng=CounterRNG.from_seed(seed, "train"),
                                monitor_rng=CounterRNG.from_seed(seed, "monitor"))
        self._updater: kernels.Update | None = None
        self._updater_config: TrainConfig | None = None

    # ----------------------------------------------------------------- running
    def run(
        self,
        X: Any,
        epochs: int = SETTINGS["epochs"].default,
        validation: float | Any | None = None,
        progress: bool = True,
        callback: Callable[[Trainer], None] | None = None,
        checkpoint_every: int | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        new_data: bool = False,
        binary: bool | None = True,
    ) -> History:
        """Train for ``epochs`` passes over ``X``; continue from the current state.

        Parameters
        ----------
        X : array, shape (n_samples, n_visible), binary
            In memory (NumPy or the model's backend), or read block by block without being
            loaded whole: a Dask array, a zarr array, a ``numpy.memmap``, a SciPy sparse
            matrix or a :class:`xprbm.blocks.BlockSource` (see :mod:`xprbm.blocks` for how
            such data are shuffled).
        epochs : int
        validation : float in (0, 1), array of shape (n_valid, n_visible), or None
            A fraction held out from ``X`` (same rows every call for a given seed; data in
            memory only), explicit validation rows, or no validation.
        progress : bool
            Show a progress bar with the latest metrics.
        callback : callable, optional
            Called as ``callback(trainer)`` after each epoch.
        checkpoint_every : int, optional
            Save the whole training state (:func:`xprbm.save`) to ``checkpoint_path`` after
            every epoch whose number is a multiple of this, and at the end of the run.
        checkpoint_path : str or path-like, optional
            Checkpoint file, rewritten atomically; alone, it is saved at the end of the run.
        new_data : bool
            Resume a state loaded from a checkpoint on other rows than it was trained on (by
            their fingerprint, :func:`xprbm.datasets.fingerprint`); refused without it,
            because resuming a run on the wrong data mixes two experiments silently. A
            state that was not loaded continues on any data.
        binary : bool or None
            Require rows of 0/1 values. ``False`` accepts values in [0, 1]: the data term of
            the gradient then uses them as they are, as probabilities of the visible units
            being on (the persistent chains stay binary). ``None`` accepts any finite values
            and uses them the same way (scikit-learn's ``BernoulliRBM`` does; outside [0, 1]
            they are no probabilities and the model means nothing for them).

        Returns
        -------
        History

        Raises
        ------
        ValueError
            Bad data or settings, or other data than the state's without ``new_data``.
        TrainingDivergedError
            The parameters became NaN or infinite; the state is back at the last finite epoch.
        """
        epochs = check_positive_int(epochs, "epochs")
        checkpoint = checkpoint_saver(checkpoint_every, checkpoint_path)
        rbm, state = self.rbm, self.state
        update = self._update_object()  # before the BLAS limit below: it may load another BLAS
        kernels.warm_up(rbm.fast_path, rbm.array_dtype, X, progress)  # input checks of X
        source = block_source(X)
        if source is None:
            # the update may gather batches from the data as they are (uint8 stays uint8)
            keep = (rbm.backend == "numpy" and isinstance(X, np.ndarray)
                    and update.reads_data_of(X.dtype))
            X = rbm.visible(X, name="X", binary=binary, convert=not keep)
            self._check_same_data(X, new_data)
            X, valid = self._split_validation(X, validation, binary)
        else:
            self._check_same_data(source, new_data)
            X, valid = source, self._explicit_validation(source, validation, binary)
        kernels.prepare(update, X, rbm.fast_path, rbm.array_dtype, progress)  # rows it reads
        if state.velocity is None:
            self._initialise(X)
        if state.schedule_end is None:  # where a schedule without schedule_epochs ends
            state.schedule_end = state.epoch + epochs
        train_monitor = self._monitor_rows(X, binary)
        valid_monitor = None if valid is None else self._monitor_rows(valid, binary)
        n = X.shape[0]
        n_batches = -(-n // self.config.batch_size)
        last_finite = self._snapshot()
        with update.blas_threads(), progress_bar(total=epochs * n_batches, enabled=progress,
                                                 desc="training", unit="batch") as bar:
            for _ in range(epochs):
                start = time.perf_counter()
                for data, rows in self._epoch_batches(X, binary, update):
                    self._update(data, rows)
                    bar.update(1)
                rbm.array_backend.synchronize()
                seconds = time.perf_counter() - start
                if not self._finite():
                    self._diverged(last_finite, checkpoint)
                state.epoch += 1
                row = self._metrics(train_monitor, valid_monitor)
                state.history.append(epoch=state.epoch, seconds=seconds, **row)
                bar.set_postfix(epoch=state.epoch, pll=f"{row['train_pll_per_unit']:.4f}",
                                recon=f"{row['recon_error']:.4f}", refresh=False)
                if callback is not None:
                    callback(self)
                if checkpoint is not None:
                    checkpoint(self, False)
                last_finite = self._snapshot()
        if checkpoint is not None:
            checkpoint(self, True)
        return state.history

    def learning_rate_at(self, epoch: int | None = None) -> float:
        """The learning rate of epoch ``epoch`` of this run, by its settings' schedule
        (:meth:`TrainConfig.learning_rate_at` with the state's :attr:`~TrainState.schedule_end`).

        Parameters
        ----------
        epoch : int >= 1, optional
            Counted from the start of the run (as ``history.epoch``); default: the next epoch
            to train, ``trainer.epoch + 1``.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            A decaying schedule without ``schedule_epochs`` before the state's first run.
        """
        epoch = self.state.epoch + 1 if epoch is None else epoch
        return self.config.learning_rate_at(epoch, self.state.schedule_end)

    def _check_same_data(self, X: Any, new_data: bool) -> None:
        """Record the fingerprint of ``X``; a resumed state refuses other data unless told."""
        backend = self.rbm.array_backend

        def sample(rows: np.ndarray) -> np.ndarray:
            if isinstance(X, BlockSource):
                return X.take(rows)
            return backend.to_numpy(self.rbm.xp.take(X, backend.asarray(rows), axis=0))

        found = fingerprint(int(X.shape[0]), int(X.shape[1]), sample)
        known, resumed = self.state.data_fingerprint, self.state.resumed
        self.state.resumed = False
        if resumed and known is not None and known != found and not new_data:
            raise ValueError(
                f"this training state was trained on other data (fingerprint {known[:12]}; "
                f"these {X.shape[0]} rows: {found[:12]}); continuing on them would mix two "
                "runs. Pass new_data=True (xprbm train: --new-data) to train on them anyway"
            )
        self.state.data_fingerprint = found

    def _finite(self) -> bool:
        """Whether the parameters and their velocities are all finite (on the device)."""
        arrays = list(self.rbm.parameters().values()) + list(self.state.velocity.values())
        return self.rbm.array_backend.all_finite(arrays)

    def _snapshot(self) -> tuple[dict[str, Any], TrainState]:
        """Copies of the parameters and the state, to go back to if an epoch diverges."""
        copy = self.rbm.array_backend.copy
        return ({name: copy(value) for name, value in self.rbm.parameters().items()},
                self.state.copy(copy))

    def _diverged(self, last_finite: tuple[dict[str, Any], TrainState],
                  checkpoint: Callable[[Trainer, bool], None] | None) -> None:
        """Go back to ``last_finite`` (and save it where the run saves), then raise."""
        params, state = last_finite
        failed = self.state.epoch + 1
        rate = self.learning_rate_at(failed)
        for name, value in params.items():
            setattr(self.rbm, name, value)
        self.state = state
        if checkpoint is not None:
            checkpoint(self, True)
        cfg = self.config
        raise TrainingDivergedError(
            f"training diverged in epoch {failed}: the parameters became NaN or infinite "
            f"(learning rate {rate:g}, momentum {cfg.momentum:g}, weight decay "
            f"{cfg.weight_decay:g}); the model and its training state are back at epoch "
            f"{state.epoch}{' (so is the checkpoint)' if checkpoint is not None else ''}. "
            f"Train again with a smaller learning rate (e.g. {rate / 10:g}) or "
            "weight decay", epoch=state.epoch)

    def _epoch_batches(self, X: Any, binary: bool, update: kernels.Update
                       ) -> Iterator[tuple[Any, Any]]:
        """The ``(array, rows)`` of each update of one epoch: rows of ``X`` in memory, or of
        the buffers a :class:`~xprbm.blocks.BlockSource` fills (see :mod:`xprbm.blocks`)."""
        batch = self.config.batch_size
        if not isinstance(X, BlockSource):
            n = X.shape[0]
            order = self._epoch_order(n)
            for first in range(0, n, batch):
                yield X, order[first:min(n, first + batch)]
            return
        shuffle = self.config.shuffle
        generator = self.state.rng.numpy_generator() if shuffle else None
        blocks = np.arange(X.n_blocks)
        if shuffle and X.n_blocks > 1:
            blocks = generator.permutation(X.n_blocks)
        groups = list(X.buffers(blocks))
        carried = None
        for number, group in enumerate(groups):
            parts = [X.block(index) for index in group]
            host = np.concatenate(([] if carried is None else [carried]) + parts)
            del parts
            keep = self.rbm.backend == "numpy" and update.reads_data_of(host.dtype)
            data = self.rbm.visible(host, name="X", binary=binary, convert=not keep)
            m = host.shape[0]
            order = generator.permutation(m) if shuffle else np.arange(m)
            used = m if number == len(groups) - 1 else m // batch * batch
            carried = host[order[used:]] if used < m else None
            del host
            for first in range(0, used, batch):
                rows = order[first:min(used, first + batch)]
                yield data, rows if self.rbm.backend == "numpy" else \
                    self.rbm.array_backend.asarray(rows)

    def _update_object(self) -> kernels.Update:
        """The update object for the current settings (built again when they change sizes)."""
        if self._updater is not None and self._updater_config is self.config:
            return self._updater
        rbm = self.rbm
        layout = self.config.layout(rbm.n_visible, rbm.n_hidden)
        if self._updater is None or self._updater.layout != layout:
            self._updater = kernels.make_update(rbm.array_backend, rbm.fast_path,
                                                rbm.array_dtype, layout)
        self._updater_config = self.config
        return self._updater

    def _update(self, X: Any, rows: Any) -> None:
        """One update on ``X[rows]``: the state's arrays go in, the results come back."""
        rbm, state, config = self.rbm, self.state, self.config
        params = rbm.parameters()
        chains = None
        if config.method == "pcd":
            chains = {"visible": state.chains, "hidden": state.hidden_chains}
        elif config.method == "pt":
            chains = {"visible": state.chains, "swaps": state.swaps}
        self._update_object()(X, rows, params, state.velocity, chains, state.rng,
                              config.update_settings(self.learning_rate_at()), state.offsets)
        for name, value in params.items():
            if getattr(rbm, name) is not value:
                setattr(rbm, name, value)
        if chains is not None:
            state.chains = chains["visible"]
            state.hidden_chains = chains.get("hidden")
        state.n_updates += 1
        rbm.trained = True

    def _initialise(self, X: Any) -> None:
        rbm, state, config = self.rbm, self.state, self.config
        xp = rbm.xp
        # a trained model keeps its visible bias: fit continues from the current parameters
        init = None if rbm.trained else config.init_visible_bias
        means = None
        if init == "data" or config.centered:
            means = self._column_means(X)
        if init == "data":
            rbm.visible_bias = generic.clipped_log_odds(xp, means, DATA_MEAN_EPS,
                                                        rbm.array_dtype)
        elif init == "zeros":
            rbm.visible_bias = xp.zeros_like(rbm.visible_bias)
        state.velocity = {name: xp.zeros_like(value) for name, value in rbm.parameters().items()}
        if config.centered:
            state.offsets = {
                "visible": xp.astype(xp.reshape(means, (-1,)), rbm.array_dtype),
                "hidden": xp.full_like(rbm.hidden_bias, HIDDEN_OFFSET_INIT)}
        if config.method == "cd":
            return
        # chains (PT: every replica) start from the independent-unit model of the visible bias
        state.chains = independent_visible(rbm, config.chain_rows, rbm.visible_bias, state.rng)
        if config.method == "pt":
            state.swaps = tempering.SwapRecord(config.n_temperatures - 1)
        else:
            state.hidden_chains = generic.bernoulli(
                rbm.array_backend, state.chains @ rbm.weights, rbm.hidden_bias,
                state.rng.next_base())

    def _column_means(self, X: Any) -> Any:
        """Column means of the training rows, float64, shape (1, n_visible)."""
        rbm = self.rbm
        if isinstance(X, BlockSource):  # one pass over the blocks
            return rbm.array_backend.asarray(X.column_means()[None, :], dtype=rbm.xp.float64)
        xp = rbm.xp
        return xp.sum(xp.astype(X, xp.float64), axis=0, keepdims=True) / X.shape[0]

    def _explicit_validation(self, source: BlockSource, validation: Any, binary: bool) -> Any:
        """Validation rows for data read block by block: explicit rows or none."""
        if _is_fraction(validation):
            raise ValueError(
                f"validation={validation!r} holds out a fraction of X, which needs X in "
                f"memory; X is a {source.kind} array read block by block: pass the "
                "validation rows as an array (validation=X_valid) or validation=None"
            )
        if validation is None:
            return None
        return self.rbm.visible(validation, name="validation", binary=binary)

    def _split_validation(self, X: Any, validation: Any, binary: bool = True
                          ) -> tuple[Any, Any]:
        if validation is None:
            return X, None
        if _is_fraction(validation):
            frac = check_range(validation, "validation", 0.0, 1.0, low_open=True, high_open=True)
            train_rows, valid_rows = held_out_rows(
                X.shape[0], frac, self.state.rng.derived_generator("validation_split"),
                "validation")
            xp, backend = self.rbm.xp, self.rbm.array_backend
            return (xp.take(X, backend.asarray(train_rows), axis=0),
                    xp.take(X, backend.asarray(valid_rows), axis=0))
        return X, self.rbm.visible(validation, name="validation", binary=binary)

    def _monitor_rows(self, X: Any, binary: bool = True) -> Any:
        """A fixed random subset (same rows every epoch) small next to an epoch's work; None
        when ``monitor_size`` is 0."""
        if self.config.monitor_size == 0:
            return None
        n = X.shape[0]
        m = min(n, self.config.monitor_size,
                max(MONITOR_MIN_ROWS, math.ceil(MONITOR_FRACTION * n)))
        rbm = self.rbm
        rows = None
        if m < n:
            chooser = self.state.rng.derived_generator("monitor_rows")
            rows = np.sort(chooser.choice(n, m, replace=False))
        if isinstance(X, BlockSource):
            picked = X.take(np.arange(n) if rows is None else rows)
            return rbm.visible(picked, name="X", binary=binary)
        if rows is not None:
            X = rbm.xp.take(X, rbm.array_backend.asarray(rows), axis=0)
        return rbm.xp.astype(X, rbm.array_dtype)

    def _epoch_order(self, n: int) -> Any:
        if self.config.shuffle:
            order = self.state.rng.numpy_generator().permutation(n)
        else:
            order = np.arange(n)
        if self.rbm.backend == "numpy":
            return order
        return self.rbm.array_backend.asarray(order)

    def _metrics(self, train: Any, valid: Any) -> dict[str, float]:
        if train is None:  # monitoring switched off
            return {name: math.nan for name in ("train_pll_per_unit", "recon_error",
                                                "valid_pll_per_unit", "free_energy_gap")}
        rbm, rng = self.rbm, self.state.monitor_rng
        on_train = monitor(rbm, train, rng)
        row = {"train_pll_per_unit": on_train["pll"], "recon_error": on_train["recon_error"],
               "valid_pll_per_unit": math.nan, "free_energy_gap": math.nan}
        if valid is not None:
            on_valid = monitor(rbm, valid, rng)
            row["valid_pll_per_unit"] = on_valid["pll"]
            row["free_energy_gap"] = on_valid["free_energy"] - on_train["free_energy"]
        return row

    # ------------------------------------------------------------- checkpoints
    def checkpoint_contents(self) -> Contents:
        """Everything a ``"trainer"`` checkpoint holds: the model's part and this run's."""
        model_meta, arrays = self.rbm.checkpoint_part()
        meta, state_arrays = self.state.checkpoint_part(self.rbm.array_backend.to_numpy)
        meta["config"] = {name: plain(getattr(self.config, name)) for name in CONFIG_FIELDS}
        return Contents("trainer", {"model": model_meta, "trainer": meta},
                        {**arrays, **state_arrays})

    @classmethod
    def from_checkpoint(cls, rbm: RBM, contents: Contents) -> Trainer:
        """The run a checkpoint holds, continuing on ``rbm`` (its restored model).

        Raises
        ------
        CheckpointError
            Settings this xprbm does not know.
        """
        meta = contents.parts.get("trainer")
        require(isinstance(meta, dict) and isinstance(meta.get("config"), dict),
                "the training part or its settings are missing")
        # a file written before a setting existed was trained without it
        config = {**SETTINGS_BEFORE_THEY_EXISTED, **meta["config"]}
        unknown = sorted(set(config) - set(CONFIG_FIELDS))
        if unknown:
            raise CheckpointError(
                f"the checkpoint has training settings {unknown} that this xprbm does not "
                "know; upgrade: pip install -U xprbm"
            )
        try:
            trainer = cls(rbm, **config)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"the checkpoint's training settings are invalid: {exc}") \
                from exc
        shapes = {name: tuple(value.shape) for name, value in rbm.parameters().items()}
        trainer.state = TrainState.from_checkpoint(meta, contents.arrays, rbm.to_model_array,
                                                   shapes, trainer.config)
        rbm.trainer = trainer
        return trainer


def _is_fraction(validation: Any) -> bool:
    """Whether ``validation`` is a number (a fraction to hold out), NumPy scalars included."""
    return isinstance(validation, (float, int, np.floating, np.integer)) and not isinstance(
        validation, (bool, np.bool_))


def checkpoint_saver(every: int | None, path: str | os.PathLike | None
                     ) -> Callable[[Trainer, bool], None] | None:
    """The periodic-checkpoint hook of :meth:`Trainer.run` (None when nothing is to be saved).

    Parameters
    ----------
    every : int or None
        Save after every epoch whose number is a multiple of ``every``.
    path : str, path-like or None
        Checkpoint file (rewritten atomically each time; its directory is created). Required
        with ``every``; alone it saves once, at the end of the run.

    Returns
    -------
    callable or None
        ``hook(trainer, final)``, called after each epoch (``final=False``) and once at the end
        of the run (``final=True``); the final call saves unless the last epoch was just saved.
    """
    if every is not None:
        every = check_positive_int(every, "checkpoint_every")
        if path is None:
            raise ValueError("checkpoint_every needs checkpoint_path= (the file to write)")
    if path is None:
        return None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    path = target_path(path)
    probe = path.with_name(f".{path.name}.{os.getpid()}.probe")
    try:  # find out now, not after all the training, that the directory takes no files
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"cannot write checkpoints into {path.parent} ({exc.strerror}); "
                              "choose a writable place") from exc
    saved_at: list[int] = []

    def hook(trainer: Trainer, final: bool) -> None:
        due = final or (every is not None and trainer.epoch % every == 0)
        if due and trainer.epoch not in saved_at[-1:]:
            write_checkpoint(path, trainer.checkpoint_contents())
            saved_at.append(trainer.epoch)

    return hook
