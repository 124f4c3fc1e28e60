"""CD-k and PCD-k training with one explicit, saveable training state.

The update ascends the log-likelihood: data expectation (with p(h|v) of the batch) minus model
expectation (p(h|v) of the chains after k block Gibbs steps). With momentum ``m``, learning
rate ``lr`` and weight decay ``d`` (weights only)::

    velocity = m * velocity + lr * (gradient - d * parameter);  parameter += velocity

Three implementations share these semantics and the same random draws: a portable generic
step (array API, any backend); a CuPy step that reuses preallocated buffers, stacks the
positive and negative phases into single matrix products and fuses the elementwise work into
kernels; and a NumPy step that runs the whole update in one compiled Numba call split over the
CPU's threads (:mod:`xprbm.kernels.numba_update`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernels
from .backend import single_thread_blas_if_small
from .kernels import generic
from .metrics import monitor
from .progress import progress_bar
from .rng import CounterRNG, mix64
from .validation import check_positive_int, check_range

if TYPE_CHECKING:
    from .rbm import RBM

METHODS = ("pcd", "cd")
#: the parameters in the order the fused update takes them
PARAMETERS = ("weights", "visible_bias", "hidden_bias")
VISIBLE_BIAS_INITS = ("data", "zeros")
#: data means are clipped to [eps, 1 - eps] before the log-odds of the visible-bias init
DATA_MEAN_EPS = 1e-3
#: the per-epoch metrics use this fraction of the rows, at least MONITOR_MIN_ROWS of them
#: (the one-flip pseudo-likelihood is noisy on fewer) and at most ``monitor_size``
MONITOR_FRACTION = 0.05
MONITOR_MIN_ROWS = 500


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (checked on creation).

    Parameters
    ----------
    method : {"pcd", "cd"}
        Persistent contrastive divergence (chains survive across updates) or CD (chains
        restart at the batch).
    k : int
        Block Gibbs steps per update.
    n_chains : int or None
        Persistent chains for PCD (default: ``batch_size``); CD uses one chain per row.
    batch_size : int
        Rows per update; a short last batch is averaged over its own size.
    learning_rate : float
    momentum : float in [0, 1)
    weight_decay : float >= 0
        L2 penalty on the weights.
    shuffle : bool
        Visit the rows in a fresh seeded order each epoch.
    init_visible_bias : {"data", "zeros"}
        Visible bias set when a run starts: ``"data"`` gives ``b = log(p / (1 - p))`` of the
        data means clipped to [1e-3, 1 - 1e-3] (Hinton's guide); ``"zeros"`` gives ``b = 0``.
    monitor_size : int
        Upper bound on the rows used for the per-epoch metrics.
    """

    method: str = "pcd"
    k: int = 1
    n_chains: int | None = None
    batch_size: int = 100
    learning_rate: float = 0.01
    momentum: float = 0.5
    weight_decay: float = 0.0
    shuffle: bool = True
    init_visible_bias: str = "data"
    monitor_size: int = 1000

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.init_visible_bias not in VISIBLE_BIAS_INITS:
            raise ValueError(
                f"init_visible_bias must be one of {VISIBLE_BIAS_INITS}; "
                f"got {self.init_visible_bias!r}"
            )
        check_positive_int(self.k, "k")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.monitor_size, "monitor_size")
        if self.n_chains is not None:
            check_positive_int(self.n_chains, "n_chains")
        check_range(self.learning_rate, "learning_rate", 0.0, math.inf, low_open=True,
                    high_open=True)
        check_range(self.momentum, "momentum", 0.0, 1.0, high_open=True)
        check_range(self.weight_decay, "weight_decay", 0.0, math.inf, high_open=True)
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {self.shuffle!r}")

    @property
    def chains(self) -> int:
        """Number of persistent chains (PCD)."""
        return self.batch_size if self.n_chains is None else self.n_chains


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
RUN_FIELDS = (
    "epochs", "validation", "progress", "callback", "checkpoint_every", "checkpoint_path",
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
    train_pll, valid_pll : list of float
        Mean pseudo-log-likelihood per visible unit (NaN without validation data).
    recon_error : list of float
        Mean squared reconstruction error on the monitored training rows.
    free_energy_gap : list of float
        Mean F(validation) − mean F(training subset of the same size) (NaN without validation).
    seconds : list of float
        Wall time of the epoch's updates (monitoring excluded).
    """

    epoch: list[int] = field(default_factory=list)
    train_pll: list[float] = field(default_factory=list)
    valid_pll: list[float] = field(default_factory=list)
    recon_error: list[float] = field(default_factory=list)
    free_energy_gap: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

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


class Trainer:
    """All state of a training run: settings, chains, momentum, random streams, counters.

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
    config : TrainConfig
    chains : array, shape (n_chains, n_visible), or None
        Persistent visible chains (PCD), created on the first update.
    hidden_chains : array, shape (n_chains, n_hidden), or None
        Hidden states drawn from ``chains`` at the end of the latest update (PCD).
    velocity : dict of arrays or None
        Momentum buffers, one per parameter.
    rng, monitor_rng : CounterRNG
        Streams for the updates and for the metrics (so monitoring never changes training).
    epoch, n_updates : int
    history : History
    """

    def __init__(self, rbm: RBM, *, seed: int | None = None, **config: Any) -> None:
        self.rbm = rbm
        self.config = TrainConfig(**config)
        seed = rbm.seed if seed is None else seed
        self.rng = CounterRNG.from_seed(seed, stream=1)
        self.monitor_rng = CounterRNG.from_seed(seed, stream=2)
        self.chains: Any = None
        self.hidden_chains: Any = None
        self.velocity: dict[str, Any] | None = None
        self.epoch = 0
        self.n_updates = 0
        self.history = History()
        self._step: Callable[[Any, Any], None] | None = None

    # ----------------------------------------------------------------- running
    def run(
        self,
        X: Any,
        epochs: int = 10,
        validation: float | Any | None = None,
        progress: bool = True,
        callback: Callable[[Trainer], None] | None = None,
        checkpoint_every: int | None = None,
        checkpoint_path: str | os.PathLike | None = None,
    ) -> History:
        """Train for ``epochs`` passes over ``X``; continue from the current state.

        Parameters
        ----------
        X : array, shape (n_samples, n_visible), binary
        epochs : int
        validation : float in (0, 1), array of shape (n_valid, n_visible), or None
            A fraction held out from ``X`` (same rows every call for a given seed), explicit
            validation rows, or no validation.
        progress : bool
            Show a progress bar with the latest metrics.
        callback : callable, optional
            Called as ``callback(trainer)`` after each epoch.
        checkpoint_every : int, optional
            Save the whole training state (:func:`xprbm.save`) to ``checkpoint_path`` after
            every epoch whose number is a multiple of this, and at the end of the run.
        checkpoint_path : str or path-like, optional
            Checkpoint file, rewritten atomically; alone, it is saved at the end of the run.

        Returns
        -------
        History
        """
        epochs = check_positive_int(epochs, "epochs")
        from .io import checkpoint_saver

        checkpoint = checkpoint_saver(checkpoint_every, checkpoint_path)
        rbm = self.rbm
        # the Numba step gathers batches from the data in its own dtype (uint8 stays uint8)
        X = rbm.visible(X, name="X", binary=True, convert=rbm.kernel_method != "numba")
        X, valid = self._split_validation(X, validation)
        if self.velocity is None:
            self._initialise(X)
        if self._step is None:  # before the BLAS limit below: it may load another BLAS
            self._step = _make_step(self)
        train_monitor = self._monitor_rows(X)
        valid_monitor = None if valid is None else self._monitor_rows(valid)
        n = X.shape[0]
        batch = self.config.batch_size
        n_batches = -(-n // batch)
        products = single_thread_blas_if_small(
            rbm.backend, (batch + self.config.chains) * rbm.n_visible * rbm.n_hidden,
            always=rbm.kernel_method == "numba")
        with products, progress_bar(total=epochs * n_batches, enabled=progress,
                                    desc="training", unit="batch") as bar:
            for _ in range(epochs):
                order = self._epoch_order(n)
                start = time.perf_counter()
                for first in range(0, n, batch):
                    self._update(X, order[first:min(n, first + batch)])
                    bar.update(1)
                rbm._backend.synchronize()
                seconds = time.perf_counter() - start
                self.epoch += 1
                row = self._metrics(train_monitor, valid_monitor)
                self.history.append(epoch=self.epoch, seconds=seconds, **row)
                bar.set_postfix(epoch=self.epoch, pll=f"{row['train_pll']:.4f}",
                                recon=f"{row['recon_error']:.4f}", refresh=False)
                if callback is not None:
                    callback(self)
                if checkpoint is not None:
                    checkpoint(self, False)
        if checkpoint is not None:
            checkpoint(self, True)
        return self.history

    def _update(self, X: Any, rows: Any) -> None:
        if self._step is None:
            self._step = _make_step(self)
        self._step(X, rows)
        self.n_updates += 1

    def _initialise(self, X: Any) -> None:
        rbm = self.rbm
        xp = rbm.xp
        if self.config.init_visible_bias == "data":
            mean = xp.sum(X, axis=0, dtype=xp.float64) / X.shape[0]
            p = xp.clip(mean, DATA_MEAN_EPS, 1.0 - DATA_MEAN_EPS)
            rbm.visible_bias = xp.astype(xp.log(p / (1.0 - p)), rbm._dtype)
        else:
            rbm.visible_bias = xp.zeros_like(rbm.visible_bias)
        self.velocity = {name: xp.zeros_like(value) for name, value in rbm.parameters().items()}
        if self.config.method == "pcd":
            # chains start from the independent-unit model of the visible bias
            u = kernels.uniform(rbm._backend, (self.config.chains, rbm.n_visible),
                                self.rng.next_base(), rbm._dtype, rbm.kernel_method)
            p = generic.sigmoid(xp, rbm.visible_bias)
            self.chains = xp.astype(u < p, rbm._dtype)
            self.hidden_chains = generic.bernoulli(rbm._backend, self.chains @ rbm.weights,
                                                   rbm.hidden_bias, self.rng.next_base())

    def _derived_generator(self, tag: int) -> np.random.Generator:
        """A host generator that depends on the seed and ``tag`` only (not on counters)."""
        return np.random.Generator(np.random.Philox(key=mix64(self.rng.key ^ tag)))

    def _split_validation(self, X: Any, validation: Any) -> tuple[Any, Any]:
        if validation is None:
            return X, None
        if isinstance(validation, (float, int)) and not isinstance(validation, bool):
            frac = check_range(validation, "validation", 0.0, 1.0, low_open=True, high_open=True)
            n = X.shape[0]
            n_valid = int(round(frac * n))
            if n_valid < 1 or n_valid >= n:
                raise ValueError(
                    f"validation={validation} leaves {n - n_valid} training and {n_valid} "
                    f"validation rows out of {n}; use a fraction that keeps both non-empty"
                )
            order = self._derived_generator(0xA11D).permutation(n)
            xp = self.rbm.xp
            idx = self.rbm._backend.asarray(order)
            return xp.take(X, idx[n_valid:], axis=0), xp.take(X, idx[:n_valid], axis=0)
        return X, self.rbm.visible(validation, name="validation", binary=True)

    def _monitor_rows(self, X: Any) -> Any:
        """A fixed random subset (same rows every epoch) small next to an epoch's work."""
        n = X.shape[0]
        m = min(n, self.config.monitor_size,
                max(MONITOR_MIN_ROWS, math.ceil(MONITOR_FRACTION * n)))
        rbm = self.rbm
        if m < n:
            rows = np.sort(self._derived_generator(0x3017).choice(n, m, replace=False))
            X = rbm.xp.take(X, rbm._backend.asarray(rows), axis=0)
        return rbm.xp.astype(X, rbm._dtype)

    def _epoch_order(self, n: int) -> Any:
        if self.config.shuffle:
            order = self.rng.numpy_generator().permutation(n)
        else:
            order = np.arange(n)
        if self.rbm.backend == "numpy":
            return order
        return self.rbm._backend.asarray(order)

    def _metrics(self, train: Any, valid: Any) -> dict[str, float]:
        rbm = self.rbm
        on_train = monitor(rbm, train, self.monitor_rng)
        row = {"train_pll": on_train["pll"], "recon_error": on_train["recon_error"],
               "valid_pll": math.nan, "free_energy_gap": math.nan}
        if valid is not None:
            on_valid = monitor(rbm, valid, self.monitor_rng)
            row["valid_pll"] = on_valid["pll"]
            row["free_energy_gap"] = on_valid["free_energy"] - on_train["free_energy"]
        return row


def _make_step(trainer: Trainer) -> Callable[[Any, Any], None]:
    method = trainer.rbm.kernel_method
    if method == "generic":
        return lambda X, rows: generic_step(trainer, X, rows)
    try:
        return CupyStep(trainer) if method == "cupy" else NumbaStep(trainer)
    except (ImportError, OSError, AttributeError) as error:
        # Numba: SciPy and threadpoolctl are dependencies, but may be absent; CuPy: a cuBLAS
        # that cannot be loaded through ctypes
        needs = "cuBLAS through ctypes" if method == "cupy" else "SciPy and threadpoolctl"
        warnings.warn(f"the fast {method} update needs {needs} ({error}); training with the "
                      "generic update instead", RuntimeWarning, stacklevel=3)
        return lambda X, rows: generic_step(trainer, X, rows)


def generic_step(trainer: Trainer, X: Any, rows: Any) -> None:
    """One CD-k / PCD-k update with portable array-API code (the reference).

    PCD keeps visible chains and the hidden states drawn from them at the end of the previous
    update (with the parameters of that moment, as in the classic Theano PCD code); each update
    runs ``h -> v`` then ``k - 1`` full ``v -> h -> v`` steps, and the negative phase's hidden
    field also gives the hidden states kept for the next update. CD starts the chain with
    ``h ~ p(h | batch)``. Either way an update of PCD-1 / CD-1 costs five matrix products.

    Parameters
    ----------
    trainer : Trainer
    X : array, shape (n_samples, n_visible)
    rows : array of int, shape (b,)
        Rows of ``X`` in this batch.
    """
    rbm, cfg, rng = trainer.rbm, trainer.config, trainer.rng
    backend, xp = rbm._backend, rbm.xp
    W, b, c = rbm.weights, rbm.visible_bias, rbm.hidden_bias
    batch = xp.take(X, rows, axis=0)
    pos_field = batch @ W + c
    pos = generic.sigmoid(xp, pos_field)
    if cfg.method == "cd":
        h = generic.bernoulli(backend, pos_field, 0.0, rng.next_base())
    else:
        h = trainer.hidden_chains
    for step in range(cfg.k):
        v = generic.bernoulli(backend, h @ W.T, b, rng.next_base())
        if step < cfg.k - 1:
            h = generic.bernoulli(backend, v @ W, c, rng.next_base())
    neg_field = v @ W + c
    neg = generic.sigmoid(xp, neg_field)
    if cfg.method == "pcd":
        trainer.chains = v
        trainer.hidden_chains = generic.bernoulli(backend, neg_field, 0.0, rng.next_base())
    n_pos, n_neg = batch.shape[0], v.shape[0]
    grads = {
        "weights": batch.T @ pos / n_pos - v.T @ neg / n_neg,
        "visible_bias": xp.sum(batch, axis=0) / n_pos - xp.sum(v, axis=0) / n_neg,
        "hidden_bias": xp.sum(pos, axis=0) / n_pos - xp.sum(neg, axis=0) / n_neg,
    }
    for name, grad in grads.items():
        param = getattr(rbm, name)
        decay = cfg.weight_decay if name == "weights" else 0.0
        velocity = cfg.momentum * trainer.velocity[name] + cfg.learning_rate * (
            grad - decay * param)
        trainer.velocity[name] = velocity
        setattr(rbm, name, param + velocity)


def _contiguous_parameters(trainer: Trainer) -> None:
    """Make every parameter and velocity a C-contiguous array of the model's dtype.

    The fast updates hand raw memory to BLAS and to compiled kernels as C-ordered arrays of
    one dtype, and a user may have assigned a Fortran-ordered, transposed or float64 array.

    Raises
    ------
    ValueError
        A parameter or velocity of the wrong shape.
    """
    rbm, velocity = trainer.rbm, trainer.velocity
    xp, dtype = rbm.xp, rbm._dtype
    shapes = {"weights": (rbm.n_visible, rbm.n_hidden), "visible_bias": (rbm.n_visible,),
              "hidden_bias": (rbm.n_hidden,)}
    for name in PARAMETERS:
        for owner, label in ((rbm.__dict__, name), (velocity, f"velocity of {name}")):
            array = owner[name]
            if tuple(array.shape) != shapes[name]:
                raise ValueError(f"{label} has shape {tuple(array.shape)}; the model needs "
                                 f"{shapes[name]}")
            if not array.flags.c_contiguous or array.dtype != dtype:
                owner[name] = xp.ascontiguousarray(array, dtype=dtype)


class StackedBuffers:
    """Preallocated ``[chains; batch]`` buffers shared by the fast updates.

    ``vis`` (rows, n_visible) and ``hid`` (rows, n_hidden) hold the chains stacked above the
    batch, so that one product serves both phases; ``hid_chain`` (n_chains, n_hidden) holds
    the chains' hidden states. For PCD the chains live in the first rows of ``vis``
    (``trainer.chains`` is a view) and ``trainer.hidden_chains`` is ``hid_chain``.

    Parameters
    ----------
    trainer : Trainer
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        rbm, cfg = trainer.rbm, trainer.config
        xp, dtype = rbm.xp, rbm._dtype
        batch = cfg.batch_size
        self.n_chains = cfg.chains if cfg.method == "pcd" else batch
        rows = self.n_chains + batch
        self.vis = xp.empty((rows, rbm.n_visible), dtype=dtype)
        self.hid = xp.empty((rows, rbm.n_hidden), dtype=dtype)
        self.hid_chain = xp.empty((self.n_chains, rbm.n_hidden), dtype=dtype)
        self._row_scales: dict[int, Any] = {}
        if cfg.method == "pcd":
            self.vis[: self.n_chains] = trainer.chains
            self.hid_chain[...] = trainer.hidden_chains
            trainer.chains = self.vis[: self.n_chains]
            trainer.hidden_chains = self.hid_chain

    def _sizes(self, n_batch: int) -> tuple[bool, int, int, int]:
        """``(pcd, n_batch, n_chains, n_rows)`` of an update on ``n_batch`` rows (CD: one
        chain per batch row; the last batch may be short, never longer)."""
        if not 1 <= n_batch <= self.trainer.config.batch_size:
            raise ValueError(f"an update takes 1 to batch_size="
                             f"{self.trainer.config.batch_size} rows; got {n_batch}")
        pcd = self.trainer.config.method == "pcd"
        n_chains = self.n_chains if pcd else n_batch
        return pcd, n_batch, n_chains, n_chains + n_batch

    def _row_scale(self, n_chains: int, n_batch: int) -> Any:
        """``[-1/C] * C + [1/b] * b`` on the device (cached per batch size)."""
        if n_batch not in self._row_scales:
            scale = np.concatenate([np.full(n_chains, -1.0 / n_chains),
                                    np.full(n_batch, 1.0 / n_batch)])
            self._row_scales[n_batch] = self.trainer.rbm._backend.asarray(
                scale, dtype=self.trainer.rbm._dtype)
        return self._row_scales[n_batch]


class CupyStep(StackedBuffers):
    """The CuPy update: the stacked buffers, cuBLAS products, fused kernels, a CUDA graph.

    Same algorithm and random draws as :func:`generic_step`::

        hid = rowscale * sigmoid(vis @ W + c)     rowscale = -1/C (chains), +1/b (data)
        vW = momentum * vW + lr * vis.T @ hid     (one product, beta = momentum)
        vb = momentum * vb + lr * rowscale @ vis,  vc = momentum * vc + lr * ones @ hid
        vW -= lr * decay * W;  W += vW;  b += vb;  c += vc   (one kernel)

    The batch gather also writes the random stream's step into a device counter, from which
    the other kernels derive their draws (:mod:`xprbm.kernels.cupy_gpu`). Everything after
    the gather therefore has the same arguments in every full-batch update: the first such
    update runs launch by launch (compiling the kernels), the next one is captured into a CUDA
    graph, and from then on an update costs two launches: the gather and the graph. The graph
    is captured again whenever what it holds changes: a parameter or velocity array replaced
    (new memory), the stream's key or the settings. Short last batches run launch by launch.
    ``XPRBM_CUDA_GRAPHS=0`` turns graphs off; if a capture fails, a ``RuntimeWarning`` says
    so and the step goes on launch by launch.

    Parameters
    ----------
    trainer : Trainer

    Raises
    ------
    OSError, AttributeError
        cuBLAS cannot be loaded through ctypes (:func:`_make_step` then falls back).
    """

    def __init__(self, trainer: Trainer) -> None:
        from .kernels import cupy_gpu

        cupy_gpu.cublas()
        super().__init__(trainer)
        self.gpu = cupy_gpu
        rbm = trainer.rbm
        xp, dtype = rbm.xp, np.dtype(rbm._dtype)
        self.counter = xp.zeros(1, dtype=xp.uint64)
        self.ones = xp.ones(self.vis.shape[0], dtype=dtype)
        # host scalars (alpha, beta) of the products: plain, and accumulating into velocity
        self.plain = np.array([1.0, 0.0], dtype=dtype)
        self.accumulate = np.zeros(2, dtype=dtype)
        self.use_graph = os.environ.get("XPRBM_CUDA_GRAPHS", "1") != "0"
        self.graph: Any = None
        self.graph_signature: tuple | None = None
        self.warm = False

    def __call__(self, X: Any, rows: Any) -> None:
        trainer = self.trainer
        rbm, cfg, rng = trainer.rbm, trainer.config, trainer.rng
        xp = rbm.xp
        _, n_batch, n_chains, n_rows = self._sizes(rows.shape[0])
        _contiguous_parameters(trainer)
        if X.dtype != self.vis.dtype:
            raise TypeError(f"the CuPy update gathers from data of the model's dtype "
                            f"{self.vis.dtype}; got {X.dtype}")
        rows = xp.asarray(rows, dtype=xp.int64)
        self.gpu.gather_rows_(X, rows, self.vis[n_chains:n_rows], rng.step, self.counter)
        if self.use_graph and self.warm and n_batch == cfg.batch_size:
            self._replay(n_batch)
        else:
            self._enqueue(n_batch)
            self.warm = self.warm or n_batch == cfg.batch_size
        rng.step += 2 * cfg.k  # the draws that the kernels took from the counter

    def _replay(self, n_batch: int) -> None:
        """Launch the graph of a full-batch update, capturing it first if need be."""
        signature = self._signature()
        if signature != self.graph_signature:
            self.graph, self.graph_signature = None, None
            try:
                self.graph = self.gpu.capture(lambda: self._enqueue(n_batch))
            except Exception as error:  # a driver or library that cannot capture this
                warnings.warn(f"CUDA graph capture failed ({error}); training launch by "
                              "launch instead", RuntimeWarning, stacklevel=4)
                self.use_graph = False
                self._enqueue(n_batch)
                return
            self.graph_signature = signature
        self.graph.launch()

    def _signature(self) -> tuple:
        """What a captured graph holds besides the step's own buffers: the settings, the
        stream's key and the memory of every parameter and velocity."""
        trainer = self.trainer
        rbm, velocity = trainer.rbm, trainer.velocity
        arrays = [getattr(rbm, name) for name in PARAMETERS]
        arrays += [velocity[name] for name in PARAMETERS]
        return (trainer.config, trainer.rng.key, *(a.data.ptr for a in arrays))

    def _enqueue(self, n_batch: int) -> None:
        """Launch everything of an update after the gather, on the current stream."""
        trainer, gpu = self.trainer, self.gpu
        rbm, cfg = trainer.rbm, trainer.config
        W, b, c = rbm.weights, rbm.visible_bias, rbm.hidden_bias
        velocity = trainer.velocity
        pcd, n_batch, n_chains, n_rows = self._sizes(n_batch)
        vis, hid = self.vis[:n_rows], self.hid[:n_rows]
        chain, hid_chain = vis[:n_chains], self.hid_chain[:n_chains]
        scale = self._row_scale(n_chains, n_batch)
        key, counter, plain = np.uint64(trainer.rng.key), self.counter, self.plain
        self.accumulate[:] = (cfg.learning_rate, cfg.momentum)
        draw = 0
        if not pcd:  # positive phase first; its field also starts the chain
            gpu.gemm(vis[n_chains:], W, hid[n_chains:], plain)
            gpu.hidden_(hid[n_chains:], c, scale[n_chains:], hid_chain, key, counter, draw)
            draw += 1
        for step in range(cfg.k):
            gpu.gemm(hid_chain, W, chain, plain, trans_b=True)
            gpu.bernoulli_counted_(chain, b, key, counter, draw)
            draw += 1
            if step < cfg.k - 1:
                gpu.gemm(chain, W, hid_chain, plain)
                gpu.bernoulli_counted_(hid_chain, c, key, counter, draw)
                draw += 1
        if pcd:  # both phases in one product; the chain rows also draw the next hidden states
            gpu.gemm(vis, W, hid, plain)
            gpu.hidden_(hid, c, scale, hid_chain, key, counter, draw)
        else:
            gpu.gemm(chain, W, hid[:n_chains], plain)
            gpu.hidden_(hid[:n_chains], c, scale[:n_chains], hid_chain[:0], key, counter, 0)
        velocities = tuple(velocity[name] for name in PARAMETERS)
        gpu.gemm(vis, hid, velocities[0], self.accumulate, trans_a=True)
        gpu.gemm(scale[None], vis, velocities[1][None], self.accumulate)
        gpu.gemm(self.ones[None, :n_rows], hid, velocities[2][None], self.accumulate)
        gpu.apply_velocities_((W, b, c), velocities, cfg.learning_rate * cfg.weight_decay)


class NumbaStep(StackedBuffers):
    """The NumPy + Numba update: the stacked buffers, and the whole update in one compiled
    call split over Numba's threads (:mod:`xprbm.kernels.numba_update`)."""

    def __init__(self, trainer: Trainer) -> None:
        import threadpoolctl  # noqa: F401  (holds the BLAS at one thread during the run)

        from .kernels import numba_update

        super().__init__(trainer)
        self.update = numba_update.update
        rbm = trainer.rbm
        # blocks of visible units; blocks 1.. keep their partial hidden fields in `partials`
        # (block 0 uses hid)
        self.bounds = numba_update.unit_blocks(rbm.n_visible)
        self.partials = np.empty((len(self.bounds) - 2, self.hid.shape[0], rbm.n_hidden),
                                 dtype=rbm._dtype)

    def __call__(self, X: Any, rows: Any) -> None:
        trainer = self.trainer
        rbm, cfg, rng = trainer.rbm, trainer.config, trainer.rng
        pcd, n_batch, n_chains, n_rows = self._sizes(rows.shape[0])
        # CD: positive sample, then k visible and k - 1 hidden draws; PCD: the chain's
        # 2k - 1 draws, then the hidden states kept for the next update: 2k either way
        bases = np.array([rng.next_base() for _ in range(2 * cfg.k)], dtype=np.uint64)
        velocity = trainer.velocity
        _contiguous_parameters(trainer)
        self.update(X, rows, self.vis[:n_rows], self.hid[:n_rows], self.partials, self.bounds,
                    self.hid_chain[:n_chains],
                    (rbm.weights, rbm.visible_bias, rbm.hidden_bias),
                    tuple(velocity[name] for name in PARAMETERS),
                    self._row_scale(n_chains, n_batch), bases, pcd, cfg.k, cfg.learning_rate,
                    cfg.momentum, cfg.weight_decay)
