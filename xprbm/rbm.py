"""The Bernoulli-Bernoulli Restricted Boltzmann Machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernels
from .backend import Backend, get_backend
from .kernels import generic
from .rng import CounterRNG, seed_to_key
from .validation import as_model_array, check_positive_int

if TYPE_CHECKING:
    from .train import History, Trainer


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
    kernels : {"auto", "generic", "numba", "cupy"}
        Fast path for sampling and training (see :mod:`xprbm.kernels`); "generic" is the
        portable reference.

    Attributes
    ----------
    weights : array, shape (n_visible, n_hidden)
        Initialised from N(0, 0.01²).
    visible_bias : array, shape (n_visible,)
    hidden_bias : array, shape (n_hidden,)
    backend : str
        Name of the backend.
    trainer : Trainer or None
        State of the latest training run (set by :meth:`fit` / :meth:`partial_fit`).
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        *,
        backend: str | Backend = "numpy",
        dtype: str = "float32",
        seed: int | None = None,
        kernels: str = "auto",
    ) -> None:
        n_visible = check_positive_int(n_visible, "n_visible")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        self._backend = get_backend(backend)
        self._dtype = self._backend.dtype(dtype)
        self.dtype = dtype
        self.kernel_method = _resolve(self._backend, kernels)
        self.kernels = kernels
        self.seed, key = seed_to_key(seed)
        self.rng = CounterRNG(key)
        init = np.random.Generator(np.random.PCG64(self.seed)).normal(
            0.0, 0.01, size=(n_visible, n_hidden)
        )
        self.weights = self._backend.asarray(init, dtype=self._dtype)
        self.visible_bias = self._backend.asarray(np.zeros(n_visible), dtype=self._dtype)
        self.hidden_bias = self._backend.asarray(np.zeros(n_hidden), dtype=self._dtype)
        self.trainer: Trainer | None = None

    # ------------------------------------------------------------------ basics
    @property
    def backend(self) -> str:
        """Name of the backend the parameters live on."""
        return self._backend.name

    @property
    def xp(self) -> Any:
        """Array namespace of the parameters."""
        return self._backend.xp

    @property
    def n_visible(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_hidden(self) -> int:
        return int(self.weights.shape[1])

    def __repr__(self) -> str:
        return (
            f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"backend={self.backend!r}, dtype={self.dtype!r}, seed={self.seed})"
        )

    def parameters(self) -> dict[str, Any]:
        """The three parameter arrays by name (the arrays themselves, not copies)."""
        return {
            "weights": self.weights,
            "visible_bias": self.visible_bias,
            "hidden_bias": self.hidden_bias,
        }

    def to_backend(self, backend: str | Backend) -> RBM:
        """A copy of this model (parameters and sampling RNG) on another backend."""
        other = RBM.__new__(RBM)
        other.__dict__.update(self.__dict__)
        other._backend = get_backend(backend)
        other._dtype = other._backend.dtype(self.dtype)
        other.kernel_method = _resolve(other._backend, "auto")
        other.kernels = "auto"
        other.rng = CounterRNG(self.rng.key, self.rng.step)
        for name, value in self.parameters().items():
            setattr(other, name, other._backend.asarray(
                self._backend.to_numpy(value), dtype=other._dtype))
        other.trainer = None
        return other

    def visible(self, v: Any, name: str = "v", binary: bool = False,
                convert: bool = True) -> Any:
        """Check a visible batch and return it on the model's backend, shape (n, n_visible).

        ``convert=False`` keeps a NumPy input in its own dtype (see
        :func:`xprbm.validation.as_model_array`).
        """
        return as_model_array(self._backend, v, self._dtype, width=self.n_visible,
                              name=name, layer="visible", binary=binary, convert=convert)

    def hidden(self, h: Any, name: str = "h", binary: bool = False) -> Any:
        """Check a hidden batch and return it on the model's backend, shape (n, n_hidden)."""
        return as_model_array(self._backend, h, self._dtype, width=self.n_hidden,
                              name=name, layer="hidden", binary=binary)

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
        return self._free_energy_from_field(v, v @ self.weights)

    def _free_energy_from_field(self, v: Any, field: Any) -> Any:
        xp = self.xp
        return -(v @ self.visible_bias) - xp.sum(
            generic.softplus(xp, field + self.hidden_bias), axis=1)

    # ----------------------------------------------------------- conditionals
    def hidden_probs(self, v: Any) -> Any:
        """``p(h_j = 1 | v) = sigmoid(c_j + (vW)_j)``; shape (n, n_hidden)."""
        v = self.visible(v)
        return generic.sigmoid(self.xp, v @ self.weights + self.hidden_bias)

    def visible_probs(self, h: Any) -> Any:
        """``p(v_i = 1 | h) = sigmoid(b_i + (W h)_i)``; shape (n, n_visible)."""
        h = self.hidden(h)
        return generic.sigmoid(self.xp, h @ self.weights.T + self.visible_bias)

    def sample_hidden(self, v: Any) -> Any:
        """Draw ``h ~ p(h | v)``; shape (n, n_hidden), values 0/1."""
        return self._sample_hidden(self.visible(v))

    def sample_visible(self, h: Any) -> Any:
        """Draw ``v ~ p(v | h)``; shape (n, n_visible), values 0/1."""
        return self._sample_visible(self.hidden(h))

    def _sample_hidden(self, v: Any) -> Any:
        return kernels.bernoulli(self._backend, v @ self.weights, self.hidden_bias,
                                 self.rng.next_base(), self.kernel_method)

    def _sample_visible(self, h: Any) -> Any:
        return kernels.bernoulli(self._backend, h @ self.weights.T, self.visible_bias,
                                 self.rng.next_base(), self.kernel_method)

    # ---------------------------------------------------------------- sampling
    def gibbs(self, v: Any, steps: int = 1) -> Any:
        """Run ``steps`` block Gibbs steps ``v -> h -> v'`` from ``v``.

        Parameters
        ----------
        v : array, shape (n, n_visible)
            Starting states (values in [0, 1] are treated as the first step's input).
        steps : int

        Returns
        -------
        array, shape (n, n_visible)
            Visible states after the last step.
        """
        steps = check_positive_int(steps, "steps")
        v = self.visible(v)
        for _ in range(steps):
            v = self._sample_visible(self._sample_hidden(v))
        return v

    def sample(self, n_samples: int, steps: int = 1000, init: Any = None,
               progress: bool = False) -> Any:
        """Draw ``n_samples`` visible states from independent Gibbs chains.

        Parameters
        ----------
        n_samples : int
            Number of chains, all run at once as one matrix.
        steps : int
            Gibbs steps per chain.
        init : array of shape (n_samples, n_visible), optional
            Starting states; uniform random binary states when omitted.
        progress : bool
            Show a progress bar over the steps.

        Returns
        -------
        array, shape (n_samples, n_visible), values 0/1
        """
        n_samples = check_positive_int(n_samples, "n_samples")
        steps = check_positive_int(steps, "steps")
        if init is None:
            u = kernels.uniform(self._backend, (n_samples, self.n_visible), self.rng.next_base(),
                                self._dtype, self.kernel_method)
            v = self.xp.astype(u < 0.5, self._dtype)
        else:
            v = self.visible(init, name="init")
            if v.shape[0] != n_samples:
                raise ValueError(f"init has {v.shape[0]} rows but n_samples={n_samples}")
        from .progress import progress_bar

        with progress_bar(total=steps, enabled=progress, desc="gibbs", unit="step") as bar:
            for _ in range(steps):
                v = self._sample_visible(self._sample_hidden(v))
                bar.update(1)
        return v

    # ---------------------------------------------------------------- training
    def fit(self, X: Any, **options: Any) -> History:
        """Train on ``X`` from the current parameters with a fresh training state.

        Parameters
        ----------
        X : array, shape (n_samples, n_visible), binary
        **options
            Settings of :class:`xprbm.train.TrainConfig` (``method``, ``k``, ``n_chains``,
            ``batch_size``, ``learning_rate``, ``momentum``, ``weight_decay``, ``shuffle``,
            ``init_visible_bias``, ``monitor_size``) and of :meth:`Trainer.run`
            (``epochs``, ``validation``, ``progress``, ``callback``, ``checkpoint_every``,
            ``checkpoint_path``), and ``seed`` for the training streams (default: the
            model's seed).

        Returns
        -------
        History
            Per-epoch metrics (also at ``self.trainer.history``).
        """
        from .train import Trainer, split_options

        config, run_options = split_options(options)
        self.trainer = Trainer(self, **config)
        return self.trainer.run(X, **run_options)

    def partial_fit(self, X: Any, **options: Any) -> History:
        """One more pass over ``X`` with the existing training state (created if missing).

        Persistent chains, momentum buffers and counters carry over from earlier calls.
        Training settings (as for :meth:`fit`) apply when the state is created; later calls
        must not change them.
        """
        from .train import Trainer, split_options

        config, run_options = split_options(options)
        if "epochs" in run_options:
            raise TypeError("partial_fit makes one pass over X; use fit(X, epochs=...) or call "
                            "partial_fit repeatedly")
        if self.trainer is None:
            self.trainer = Trainer(self, **config)
        else:
            changed = {k: v for k, v in config.items()
                       if k != "seed" and getattr(self.trainer.config, k) != v}
            if changed:
                raise ValueError(
                    f"partial_fit cannot change training settings {sorted(changed)} of an "
                    "existing run; call fit() to start a new run with them"
                )
        run_options.setdefault("progress", False)
        return self.trainer.run(X, epochs=1, **run_options)


def _resolve(backend: Backend, method: str) -> str:
    return kernels.resolve_method(backend, method)
