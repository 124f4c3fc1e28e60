"""The Bernoulli-Bernoulli Restricted Boltzmann Machine."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import numpy as np

from . import kernels, sampling
from .backend import (
    BACKENDS,
    DTYPES,
    Backend,
    BackendUnavailableError,
    get_backend,
    namespace_name,
)
from .checkpoint import require, rng_state, stored_array, stored_int, stored_rng
from .kernels import generic
from .rng import CounterRNG, seed_to_key, stream_for
from .train import LEARNING_RATE_FIELDS, History, Trainer, split_options
from .validation import as_model_array, check_positive_int

#: samplers of :meth:`RBM.sample`
SAMPLERS = ("gibbs", "pt")


class RBM:
    """Restricted Boltzmann Machine with binary visible and hidden units.

    Energy ``E(v, h) = -v·b - h·c - vᵀ W h``.

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes.
    backend : {"numpy", "cupy", "auto", "array_api_strict"}
        Where the parameters live and the arithmetic runs.
    dtype : {"float32", "float64"}
    seed : int or None
        Seeds the initial weights and every random draw of the model and its training.
        ``None`` draws fresh entropy; the chosen value is kept in ``seed``.
    fast_path : {"auto", "generic", "numba", "cupy"}
        Kernels for sampling and training (see :mod:`xprbm.kernels`); "generic" is the
        portable reference. (Formerly ``kernels=``, still accepted with a warning.)

    Attributes
    ----------
    weights : array, shape (n_visible, n_hidden)
        Initialised from N(0, 0.01²).
    visible_bias : array, shape (n_visible,)
    hidden_bias : array, shape (n_hidden,)
    backend : str
        Name of the backend.
    fast_path : str
        The kernels in use: ``"numba"``, ``"cupy"`` or ``"generic"``.
    trainer : Trainer or None
        State of the latest training run (set by :meth:`fit` / :meth:`partial_fit`).
    trained : bool
        Whether training has updated the parameters (False for a new model; set by the first
        update and kept in checkpoints). Only an untrained model gets its visible bias from
        ``init_visible_bias`` when a run starts.
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        *,
        backend: str | Backend = "numpy",
        dtype: str = "float32",
        seed: int | None = None,
        fast_path: str = "auto",
        kernels: str | None = None,
    ) -> None:
        if kernels is not None:
            warnings.warn("RBM(kernels=...) is now RBM(fast_path=...)", DeprecationWarning,
                          stacklevel=2)
            fast_path = kernels
        n_visible = check_positive_int(n_visible, "n_visible")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        self._shapes = {"weights": (n_visible, n_hidden), "visible_bias": (n_visible,),
                        "hidden_bias": (n_hidden,)}
        self._params: dict[str, Any] = {}
        self._set_backend(get_backend(backend), dtype, fast_path)
        self.seed, key = seed_to_key(seed)
        self.rng = CounterRNG(key)
        init = np.random.Generator(np.random.PCG64(self.seed)).normal(
            0.0, 0.01, size=(n_visible, n_hidden)
        )
        self.weights = self.to_model_array(init)
        self.visible_bias = self.to_model_array(np.zeros(n_visible))
        self.hidden_bias = self.to_model_array(np.zeros(n_hidden))
        self.trainer: Trainer | None = None
        self.trained = False

    def _set_backend(self, backend: Backend, dtype: str, fast_path: str) -> None:
        self.array_backend = backend
        self.array_dtype = backend.dtype(dtype)
        self.dtype = dtype
        self.fast_path = kernels.resolve_method(backend, fast_path)
        self.requested_fast_path = fast_path

    # ------------------------------------------------------------------ basics
    @property
    def backend(self) -> str:
        """Name of the backend the parameters live on."""
        return self.array_backend.name

    @property
    def xp(self) -> Any:
        """Array namespace of the parameters."""
        return self.array_backend.xp

    @property
    def n_visible(self) -> int:
        return self._shapes["weights"][0]

    @property
    def n_hidden(self) -> int:
        return self._shapes["weights"][1]

    def _parameter(name: str) -> property:  # noqa: N805  (builds the three properties below)
        def get(self: RBM) -> Any:
            return self._params[name]

        def put(self: RBM, value: Any) -> None:
            self._params[name] = self._checked_parameter(name, value)

        return property(get, put, doc=f"The model's {name.replace('_', ' ')} (checked when "
                                      "assigned: shape, real floating values, backend).")

    weights = _parameter("weights")
    visible_bias = _parameter("visible_bias")
    hidden_bias = _parameter("hidden_bias")
    del _parameter

    def _checked_parameter(self, name: str, value: Any) -> Any:
        """``value`` as a parameter array of the model's backend, or an error that says why
        not (a wrong shape or dtype would otherwise surface later, or be saved)."""
        backend = self.array_backend
        if not backend.owns(value):
            owner = namespace_name(value) if hasattr(value, "shape") else "numpy"
            if owner != "numpy":
                raise TypeError(f"{name} is a {owner} array but the model runs on "
                                f"backend={backend.name!r}")
            value = np.asarray(value) if backend.name == "numpy" else backend.asarray(value)
        floating = (backend.xp.isdtype(value.dtype, "real floating")
                    if backend.name == "array_api_strict" else value.dtype.kind == "f")
        if not floating:
            raise TypeError(f"{name} must hold real floating-point numbers; got dtype "
                            f"{value.dtype}")
        if tuple(value.shape) != self._shapes[name]:
            raise ValueError(f"{name} must have shape {self._shapes[name]}; got "
                             f"{tuple(value.shape)}")
        return value

    def __repr__(self) -> str:
        return (
            f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"backend={self.backend!r}, dtype={self.dtype!r}, seed={self.seed})"
        )

    def parameters(self) -> dict[str, Any]:
        """The three parameter arrays by name (the arrays themselves, not copies)."""
        return dict(self._params)

    def to_model_array(self, array: Any) -> Any:
        """``array`` (NumPy) as a new, writable array of the model's backend and dtype."""
        out = self.array_backend.asarray(array, dtype=self.array_dtype)
        if out is array:
            out = self.xp.asarray(array, copy=True)
        return out

    def to_backend(self, backend: str | Backend) -> RBM:
        """A copy of this model (parameters and sampling RNG) on another backend."""
        other = RBM.__new__(RBM)
        other.__dict__.update(self.__dict__)
        other._params = {}
        other._set_backend(get_backend(backend), self.dtype, "auto")
        other.rng = CounterRNG(self.rng.key, self.rng.step)
        for name, value in self.parameters().items():
            setattr(other, name, other.to_model_array(self.array_backend.to_numpy(value)))
        other.trainer = None
        return other

    def visible(self, v: Any, name: str = "v", binary: bool = False,
                convert: bool = True) -> Any:
        """Check a visible batch and return it on the model's backend, shape (n, n_visible).

        ``convert=False`` keeps a NumPy input in its own dtype (see
        :func:`xprbm.validation.as_model_array`).
        """
        return as_model_array(self.array_backend, v, self.array_dtype, width=self.n_visible,
                              name=name, layer="visible", binary=binary, convert=convert,
                              count_invalid=self._count_invalid)

    def hidden(self, h: Any, name: str = "h", binary: bool = False) -> Any:
        """Check a hidden batch and return it on the model's backend, shape (n, n_hidden)."""
        return as_model_array(self.array_backend, h, self.array_dtype, width=self.n_hidden,
                              name=name, layer="hidden", binary=binary,
                              count_invalid=self._count_invalid)

    @property
    def _count_invalid(self) -> Any:
        """The fused input check of the model's kernels (None for the generic ones)."""
        if self.fast_path == "generic":
            return None
        return functools.partial(kernels.count_invalid, method=self.fast_path)

    # --------------------------------------------------------------- energies
    def energy(self, v: Any, h: Any) -> Any:
        """Joint energy ``E(v, h)``.

        Parameters
        ----------
        v : array, shape (n, n_visible)
        h : array, shape (n, n_hidden)

        Returns
        -------
        array, shape (n,)
        """
        v, h = self.visible(v), self.hidden(h)
        if v.shape[0] != h.shape[0]:
            raise ValueError(f"v has {v.shape[0]} rows but h has {h.shape[0]}")
        xp = self.xp
        return -(v @ self.visible_bias) - (h @ self.hidden_bias) - xp.sum((v @ self.weights) * h,
                                                                           axis=1)

    def free_energy(self, v: Any) -> Any:
        """Free energy ``F(v) = -v·b - Σ_j softplus(c_j + (vW)_j)`` (overflow-free).

        Parameters
        ----------
        v : array, shape (n, n_visible)

        Returns
        -------
        array, shape (n,)
        """
        v = self.visible(v)
        return generic.free_energy(self.xp, v, v @ self.weights + self.hidden_bias,
                                   self.visible_bias)

    # ----------------------------------------------------------- conditionals
    def hidden_probs(self, v: Any) -> Any:
        """``p(h_j = 1 | v) = sigmoid(c_j + (vW)_j)``; shape (n, n_hidden)."""
        v = self.visible(v)
        return generic.sigmoid(self.xp, v @ self.weights + self.hidden_bias)

    def visible_probs(self, h: Any) -> Any:
        """``p(v_i = 1 | h) = sigmoid(b_i + (W h)_i)``; shape (n, n_visible)."""
        h = self.hidden(h)
        return generic.sigmoid(self.xp, h @ self.weights.T + self.visible_bias)

    def _stream(self, seed: int | CounterRNG | None) -> CounterRNG:
        """The stream a sampling method draws from (see :func:`xprbm.rng.stream_for`)."""
        return stream_for(seed, "sample", self.rng)

    def _chain_stream(self, seed: int | CounterRNG | None) -> CounterRNG:
        """:meth:`_stream` for the chains of :meth:`gibbs` and :meth:`sample`, after checking
        once per call (one device reduction) that there is a model to sample: NaN parameters
        would give all-zero states. The one-step conditionals skip it: they sit in loops."""
        if not self.array_backend.all_finite(list(self.parameters().values())):
            raise ValueError("the model's parameters hold NaN or infinite values (did training "
                             "diverge?); there is no distribution to sample from")
        return self._stream(seed)

    def sample_hidden(self, v: Any, seed: int | CounterRNG | None = None) -> Any:
        """Draw ``h ~ p(h | v)``; shape (n, n_hidden), values 0/1.

        ``seed``: None draws from the model's own stream, an int from a fresh stream of that
        seed, a :class:`~xprbm.rng.CounterRNG` from that stream (as every ``seed=`` here).
        """
        return sampling.sample_hidden(self, self.visible(v), self._stream(seed))

    def sample_visible(self, h: Any, seed: int | CounterRNG | None = None) -> Any:
        """Draw ``v ~ p(v | h)``; shape (n, n_visible), values 0/1 (``seed`` as in
        :meth:`sample_hidden`)."""
        return sampling.sample_visible(self, self.hidden(h), self._stream(seed))

    # ---------------------------------------------------------------- sampling
    def gibbs(self, v: Any, steps: int = 1, seed: int | CounterRNG | None = None) -> Any:
        """Run ``steps`` block Gibbs steps ``v -> h -> v'`` from ``v``.

        Parameters
        ----------
        v : array, shape (n, n_visible)
            Starting states (values in [0, 1] are treated as the first step's input).
        steps : int
        seed : int, CounterRNG or None
            As in :meth:`sample_hidden`.

        Returns
        -------
        array, shape (n, n_visible)
            Visible states after the last step.
        """
        steps = check_positive_int(steps, "steps")
        return sampling.gibbs(self, self.visible(v), steps, self._chain_stream(seed))

    def sample(self, n_samples: int, steps: int = 1000, init: Any = None,
               progress: bool = False, seed: int | CounterRNG | None = None,
               method: str = "gibbs", betas: Any = None) -> Any:
        """Draw ``n_samples`` visible states from independent chains.

        Parameters
        ----------
        n_samples : int
            Number of chains, all run at once as one matrix.
        steps : int
            Gibbs steps per chain (PT: sweeps of every replica).
        init : array of shape (n_samples, n_visible), optional
            Starting states; uniform random binary states when omitted.
        progress : bool
            Show a progress bar over the steps.
        seed : int, CounterRNG or None
            As in :meth:`sample_hidden`: the same int gives the same samples, and leaves the
            model's own stream alone.
        method : {"gibbs", "pt"}
            Plain block Gibbs, or parallel tempering (:meth:`tempered_sample`
            returns its swap rates too).
        betas : sequence of float, optional
            PT's ladder (default :func:`xprbm.kernels.tempering.ladder`).

        Returns
        -------
        array, shape (n_samples, n_visible), values 0/1
        """
        if method not in SAMPLERS:
            raise ValueError(f"method must be one of {SAMPLERS}; got {method!r}")
        if method == "pt":
            return self.tempered_sample(n_samples, steps, init, progress, seed, betas).samples
        n_samples = check_positive_int(n_samples, "n_samples")
        steps = check_positive_int(steps, "steps")
        rng = self._chain_stream(seed)
        if init is None:
            v = sampling.independent_visible(self, n_samples, None, rng)
        else:
            v = self.visible(init, name="init")
            if v.shape[0] != n_samples:
                raise ValueError(f"init has {v.shape[0]} rows but n_samples={n_samples}")
        return sampling.gibbs(self, v, steps, rng, progress)

    def tempered_sample(self, n_samples: int, sweeps: int = 1000, init: Any = None,
                        progress: bool = False, seed: int | CounterRNG | None = None,
                        betas: Any = None) -> sampling.TemperingResult:
        """Draw ``n_samples`` visible states by parallel tempering, with its diagnostics.

        Parameters are those of :meth:`sample` (``init`` may also hold every replica, shape
        (R * n_samples, n_visible)); see :func:`xprbm.sampling.parallel_tempering`.

        Returns
        -------
        TemperingResult
            ``samples`` (n_samples, n_visible), ``betas``, ``swap_rates``, ``replicas``.
        """
        n_samples = check_positive_int(n_samples, "n_samples")
        sweeps = check_positive_int(sweeps, "sweeps")
        rng = self._chain_stream(seed)
        if init is not None:
            init = self.visible(init, name="init", binary=True)
        return sampling.parallel_tempering(self, n_samples, sweeps, rng, betas, init, progress)

    # ---------------------------------------------------------------- training
    def fit(self, X: Any, **options: Any) -> History:
        """Train on ``X`` from the current parameters with a fresh training state.

        A fresh state means new momentum buffers, persistent chains, streams, counters and
        history; the parameters are the model's own. The visible bias is set by
        ``init_visible_bias`` only on a model that has not been trained yet
        (``self.trained`` is False); a second ``fit`` keeps everything the first one learned.

        Parameters
        ----------
        X : array, shape (n_samples, n_visible), binary
            In memory, or a Dask array, zarr array, ``numpy.memmap`` or SciPy sparse matrix
            read block by block (see :mod:`xprbm.blocks`).
        **options
            Settings of :class:`xprbm.train.TrainConfig` (``method``, ``k``, ``n_chains``,
            ``batch_size``, ``learning_rate``, ``momentum``, ``weight_decay``, ``shuffle``,
            ``init_visible_bias``, ``monitor_size``) and of :meth:`Trainer.run`
            (``epochs``, ``validation``, ``progress``, ``callback``, ``checkpoint_every``,
            ``checkpoint_path``, ``binary``), and ``seed`` for the training streams (default:
            the model's seed).

        Returns
        -------
        History
            Per-epoch metrics (also at ``self.trainer.history``).
        """
        config, run_options = split_options(options)
        self.trainer = Trainer(self, **config)
        return self.trainer.run(X, **run_options)

    def partial_fit(self, X: Any, **options: Any) -> History:
        """One more pass over ``X`` with the existing training state (created if missing).

        Persistent chains, momentum buffers and counters carry over from earlier calls.
        Training settings (as for :meth:`fit`) apply when the state is created; later calls
        must not change them, with one deliberate exception: the learning rate and its
        schedule (``learning_rate``, ``learning_rate_schedule``, ``final_learning_rate``,
        ``schedule_epochs``) may change from call to call, which is how a hand-made schedule
        is run. A linear or exponential schedule needs ``schedule_epochs`` here (each call is
        one epoch, so the default end, the last epoch of the first call, would be epoch 1).
        """
        config, run_options = split_options(options)
        if "epochs" in run_options:
            raise TypeError("partial_fit makes one pass over X; use fit(X, epochs=...) or call "
                            "partial_fit repeatedly")
        if self.trainer is None:
            trainer = Trainer(self, **config)
            new, changed = trainer.config, set(config)
        else:
            trainer = self.trainer
            changes = {k: v for k, v in config.items()
                       if k != "seed" and getattr(trainer.config, k) != v}
            fixed = sorted(set(changes) - set(LEARNING_RATE_FIELDS))
            if fixed:
                raise ValueError(
                    f"partial_fit cannot change training settings {fixed} of an existing run "
                    "(only the learning rate and its schedule); call fit() to start a new run "
                    "with them"
                )
            # checked as a whole (TrainConfig validates) before the run's settings change
            new = dataclasses.replace(trainer.config, **changes) if changes else trainer.config
            changed = set(changes)
        if (changed & set(LEARNING_RATE_FIELDS) and new.learning_rate_schedule != "constant"
                and new.schedule_epochs is None):
            raise ValueError(
                f"partial_fit with learning_rate_schedule={new.learning_rate_schedule!r} needs "
                "schedule_epochs=N (the epoch that trains at final_learning_rate): each call "
                "trains one epoch"
            )
        trainer.config, self.trainer = new, trainer
        run_options.setdefault("progress", False)
        return trainer.run(X, epochs=1, **run_options)

    # ------------------------------------------------------------- checkpoints
    def checkpoint_part(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-ready metadata and host arrays (``model.*``) of the model for a checkpoint."""
        meta = {
            "n_visible": self.n_visible,
            "n_hidden": self.n_hidden,
            "backend": self.backend,
            "dtype": self.dtype,
            "kernels": self.requested_fast_path,
            "seed": str(self.seed),
            "rng": rng_state(self.rng),
            "trained": bool(self.trained),
        }
        host = self.array_backend.to_numpy
        arrays = {f"model.{name}": np.array(host(value), copy=True)
                  for name, value in self.parameters().items()}
        return meta, arrays

    @classmethod
    def from_checkpoint(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                        backend: str | None = None) -> RBM:
        """The model a checkpoint part describes.

        Parameters
        ----------
        meta, arrays
            The ``"model"`` part and the checkpoint's arrays.
        backend : str or None
            Where to put the arrays; None: the saved backend when available here, else NumPy.
            The saved kernels are kept where they fit the backend, else ``"auto"``.
        """
        require(isinstance(meta, dict), "the model part is missing")
        n_visible = stored_int(meta.get("n_visible"), "n_visible", 1)
        n_hidden = stored_int(meta.get("n_hidden"), "n_hidden", 1)
        require(meta.get("dtype") in DTYPES, f"dtype {meta.get('dtype')!r}")
        require(meta.get("kernels") in kernels.METHODS, f"kernels {meta.get('kernels')!r}")
        require(meta.get("backend") in BACKENDS, f"backend {meta.get('backend')!r}")
        shapes = {"weights": (n_visible, n_hidden), "visible_bias": (n_visible,),
                  "hidden_bias": (n_hidden,)}
        params = {name: stored_array(arrays, f"model.{name}", shape)
                  for name, shape in shapes.items()}  # before any model of that size exists
        require(all(p.dtype == np.dtype(meta["dtype"]) for p in params.values()),
                f"parameters of another dtype than the model's {meta['dtype']}")
        seed = stored_int(meta.get("seed"), "seed", 0, 2**64)
        rng = stored_rng(meta.get("rng"), "model rng")
        if backend is None:
            try:
                target = get_backend(meta["backend"])
            except BackendUnavailableError:
                target = get_backend("numpy")
        else:
            target = get_backend(backend)
        fast_path = meta["kernels"]
        try:
            kernels.resolve_method(target, fast_path)
        except ValueError:
            fast_path = "auto"
        rbm = cls(n_visible, n_hidden, backend=target, dtype=meta["dtype"], seed=seed,
                  fast_path=fast_path)
        for name, value in params.items():
            setattr(rbm, name, rbm.to_model_array(value))
        rbm.rng = rng
        trained = meta.get("trained")
        require(trained is None or isinstance(trained, bool), f"trained {trained!r}")
        # files of before the flag: a new model's biases are zero (its weights are random)
        rbm.trained = trained if trained is not None else bool(
            np.any(params["visible_bias"]) or np.any(params["hidden_bias"]))
        return rbm
