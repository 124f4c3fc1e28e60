"""A drop-in for scikit-learn's ``BernoulliRBM``, trained by xprbm.

Switch with one line::

    from xprbm.sklearn import BernoulliRBM   # was: from sklearn.neural_network import ...

The constructor takes scikit-learn's parameters with the same defaults and meaning
(``n_components=256, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
random_state=None``): persistent contrastive divergence with one Gibbs step (PCD-1), as many
persistent chains as a batch, a step of ``learning_rate`` times the mean gradient of a batch,
visible biases starting at zero, no momentum, no weight decay, batches in stored order. The
extras (``backend``, ``method`` (also ``"pt"``), ``centered``, ``k``, ``n_chains``,
``momentum``, ``weight_decay``, ``dtype``, ``shuffle``) are keywords whose defaults keep that
behaviour.

The estimator adapts :class:`xprbm.RBM` and its trainer (:mod:`xprbm.train`); it does not
train by itself. It needs scikit-learn (``pip install scikit-learn``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import sampling
from .blocks import block_source, data_kind
from .checkpoint import Contents
from .kernels import generic
from .metrics import pseudo_log_likelihood
from .rbm import RBM
from .rng import stream_for
from .train import METHODS, TrainConfig, Trainer
from .validation import check_int

__all__ = ["BernoulliRBM"]

#: inputs that :meth:`BernoulliRBM.fit` reads block by block instead of validating whole
STREAMED_KINDS = ("dask", "zarr", "memmap")
DTYPES = (None, "float32", "float64")
#: rows of the per-iteration pseudo-likelihood printed with ``verbose``
VERBOSE_ROWS = 1000


class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli Restricted Boltzmann Machine with scikit-learn's interface, trained by xprbm.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.1
        Step on the mean gradient of a batch (with ``momentum``, the step of the velocity).
    batch_size : int, default=10
        Rows per update.
    n_iter : int, default=10
        Passes over the training data in :meth:`fit` (0 only initialises the parameters).
    verbose : int, default=0
        Print, after each pass, the mean stochastic pseudo-likelihood of up to 1,000 fixed
        training rows and the pass's time, in scikit-learn's format.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the Gibbs sampling of training, the flipped units of
        :meth:`score_samples` and the draws of :meth:`gibbs`. An int gives the same results
        on every call of :meth:`fit`; the random numbers differ from scikit-learn's.
    backend : {"numpy", "cupy", "auto"}, default="numpy"
        Where the parameters live and training runs (``"cupy"``: a CUDA GPU).
    method : {"pcd", "cd", "pt"}, default="pcd"
        Persistent chains (scikit-learn's method), chains started at the batch, or parallel
        tempering (persistent chains with replicas at higher temperatures that swap states;
        the ladder is :class:`xprbm.TrainConfig`'s default).
    centered : bool, default=False
        Centred gradients (see :class:`xprbm.TrainConfig`); the fitted attributes are the
        ordinary parameters of the same model.
    k : int, default=1
        Gibbs steps per update.
    n_chains : int or None, default=None
        Persistent chains (default: ``batch_size``, as scikit-learn).
    momentum : float in [0, 1), default=0.0
    weight_decay : float >= 0, default=0.0
        L2 penalty on the weights.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the parameters and the arithmetic. None follows the data: float32 stays
        float32, float64 and everything else in memory becomes float64 (scikit-learn's rule);
        data read block by block (Dask, zarr, memmap) of any type other than float64 train
        in float32.
    shuffle : bool, default=False
        Visit the rows in a fresh seeded order each pass (scikit-learn keeps their order).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weights (the transpose of the model's ``weights``).
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    h_samples_ : ndarray of shape (n_chains, n_components)
        Hidden states of the persistent chains (zeros before training, and for CD and PT).
    model_ : xprbm.RBM
        The model itself (its ``trainer`` holds the training state).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has feature names that are all strings.

    Notes
    -----
    Values of ``X`` are used as they are, as scikit-learn's estimator uses them: binary rows
    are what the model describes, and a value between 0 and 1 acts as the probability that a
    visible unit is on (it enters the data term of the gradient as it is, while the model's
    own samples stay binary). Values outside [0, 1] are accepted for compatibility, but are
    no probabilities: scale such data into [0, 1] first (``MinMaxScaler(clip=True)``). NaN
    and infinities are refused with a ``ValueError``.

    :meth:`partial_fit` makes one pass over the rows it is given, in batches of
    ``batch_size`` (scikit-learn makes one update on all of them; the two agree when a call
    passes at most ``batch_size`` rows).
    """

    def __init__(
        self,
        n_components: int = 256,
        *,
        learning_rate: float = 0.1,
        batch_size: int = 10,
        n_iter: int = 10,
        verbose: int = 0,
        random_state: Any = None,
        backend: str = "numpy",
        method: str = "pcd",
        centered: bool = False,
        k: int = 1,
        n_chains: int | None = None,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dtype: str | None = None,
        shuffle: bool = False,
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.backend = backend
        self.method = method
        self.centered = centered
        self.k = k
        self.n_chains = n_chains
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dtype = dtype
        self.shuffle = shuffle

    # --------------------------------------------------------------- training
    def fit(self, X: Any, y: Any = None) -> BernoulliRBM:
        """Fit the model to ``X`` from fresh parameters.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask array, zarr array, numpy.memmap} of shape \
(n_samples, n_features)
            Training rows, values in [0, 1]. Dask, zarr and memmap inputs are read block by
            block, never whole (see :mod:`xprbm.blocks`).
        y : ignored

        Returns
        -------
        self : BernoulliRBM
        """
        config = self._train_config()
        n_iter = check_int(self.n_iter, "n_iter", 0)
        X = self._training_data(X, reset=True)
        self.model_ = self._new_model(X)
        if n_iter == 0:
            return self
        self.model_.fit(X, epochs=n_iter, binary=None, progress=False,
                        callback=self._printer() if self.verbose else None,
                        **config)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> BernoulliRBM:
        """One pass over ``X`` in batches, continuing the training state of earlier calls.

        Parameters
        ----------
        X : as for :meth:`fit`
        y : ignored

        Returns
        -------
        self : BernoulliRBM
        """
        config = self._train_config(verbose=False)
        first = getattr(self, "model_", None) is None
        X = self._training_data(X, reset=first)
        if first:
            self.model_ = self._new_model(X)
        self.model_.partial_fit(X, binary=None, **config)
        return self

    def _train_config(self, verbose: bool | None = None) -> dict[str, Any]:
        """The trainer's settings for scikit-learn's semantics (checked here, early)."""
        verbose = bool(self.verbose) if verbose is None else verbose
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}; got {self.dtype!r}")
        check_int(self.n_components, "n_components", 1)
        check_int(int(self.verbose) if isinstance(self.verbose, (bool, np.bool_))
                  else self.verbose, "verbose", 0)
        config = dict(method=self.method, centered=self.centered, k=self.k,
                      n_chains=self.n_chains,
                      batch_size=self.batch_size, learning_rate=self.learning_rate,
                      momentum=self.momentum, weight_decay=self.weight_decay,
                      shuffle=bool(self.shuffle), init_visible_bias="zeros",
                      monitor_size=VERBOSE_ROWS if verbose else 0)
        TrainConfig(**config)  # raises on invalid values
        return config

    def _training_data(self, X: Any, reset: bool) -> Any:
        """``X`` checked as scikit-learn checks it, or left as it is when it is read block by
        block (then only its shape is checked here; values are checked block by block)."""
        if data_kind(X) in STREAMED_KINDS:
            if len(X.shape) != 2:
                raise ValueError(f"X must be 2-D; got shape {tuple(X.shape)}")
            if reset:
                self.n_features_in_ = int(X.shape[1])
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but BernoulliRBM is "
                                 f"expecting {self.n_features_in_} features as input.")
            return X
        return validate_data(self, X, accept_sparse=("csr", "csc"),
                             dtype=(np.float64, np.float32), reset=reset)

    def _new_model(self, X: Any) -> RBM:
        if self.dtype is not None:
            dtype = self.dtype
        elif data_kind(X) in STREAMED_KINDS:
            dtype = "float64" if X.dtype == np.float64 else "float32"
        else:
            dtype = "float32" if X.dtype == np.float32 else "float64"
        return RBM(int(X.shape[1]), int(self.n_components), backend=self.backend, dtype=dtype,
                   seed=self._seed())

    def _seed(self) -> int | None:
        """An xprbm seed from ``random_state``: an int as it is, a RandomState draws one."""
        state = self.random_state
        if state is None:
            return None
        if isinstance(state, numbers.Integral) and not isinstance(state, bool):
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    def _printer(self) -> Any:
        """The per-pass callback of ``verbose``, printing scikit-learn's line."""
        name = type(self).__name__
        n_features = self.n_features_in_

        def report(trainer: Trainer) -> None:
            history = trainer.history
            print(f"[{name}] Iteration {history.epoch[-1]}, pseudo-likelihood = "
                  f"{history.train_pll_per_unit[-1] * n_features:.2f}, "
                  f"time = {history.seconds[-1]:.2f}s")

        return report

    # ------------------------------------------------------------ inference
    def transform(self, X: Any) -> np.ndarray:
        """Hidden-unit probabilities ``p(h = 1 | v = X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            float32 for float32 input to a float32 model, else float64.
        """
        model, X = self._inference_input(X)

        def probabilities(rows: np.ndarray) -> Any:
            v = model.visible(rows, binary=None)
            return generic.sigmoid(model.xp, v @ model.weights + model.hidden_bias)

        return self._per_block(X, probabilities)

    def score_samples(self, X: Any, *, exact: bool = False,
                      per_unit: bool = False) -> np.ndarray:
        """Pseudo-log-likelihood of each row of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        exact : bool, default=False
            ``False``: scikit-learn's stochastic estimate, ``n_features * log sigmoid(F(x~)
            - F(x))`` with one random unit of each row flipped (``x_i -> 1 - x_i``); an int
            ``random_state`` flips the same units on every call. ``True``: the sum of
            ``log p(x_i | x_-i)`` over all units (deterministic, ``n_features`` times the
            work).
        per_unit : bool, default=False
            Divide by ``n_features`` (comparable across data of different widths).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        model, X = self._inference_input(X)
        stream = stream_for(self._seed(), "pseudo_likelihood", model.rng)
        scale = 1.0 / X.shape[1] if per_unit else 1.0

        def score(rows: np.ndarray) -> Any:
            return pseudo_log_likelihood(model, rows, exact, stream, binary=None) * scale

        return self._per_block(X, score)

    def gibbs(self, v: Any) -> np.ndarray:
        """One block Gibbs step ``v -> h -> v'``.

        Parameters
        ----------
        v : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of bool, shape (n_samples, n_features)
            The new visible states (successive calls draw fresh numbers).
        """
        model, v = self._inference_input(v)

        def step(rows: np.ndarray) -> Any:
            return sampling.gibbs(model, model.visible(rows, binary=None), 1, model.rng)

        return self._per_block(v, step).astype(bool)

    def _inference_input(self, X: Any) -> tuple[RBM, Any]:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32),
                          reset=False)
        return self.model_, X

    def _per_block(self, X: Any, compute: Any) -> np.ndarray:
        """``compute`` on the rows of ``X`` (sparse rows densified one block at a time), as a
        NumPy array of the wider of the data's and the model's float types."""
        model = self.model_
        out_dtype = np.result_type(X.dtype, model.array_dtype)
        source = block_source(X) if data_kind(X) == "sparse" else None
        if source is None:
            parts = [compute(X)]
        else:
            parts = [compute(source.block(i)) for i in range(source.n_blocks)]
        host = [np.asarray(model.array_backend.to_numpy(part)) for part in parts]
        return np.concatenate(host).astype(out_dtype, copy=False)

    # ------------------------------------------------------------ attributes
    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "model_", None) is not None

    def _host(self, array: Any) -> np.ndarray:
        return np.asarray(self.model_.array_backend.to_numpy(array))

    @property
    def components_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._host(self.model_.weights).T

    @property
    def intercept_hidden_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._host(self.model_.hidden_bias)

    @property
    def intercept_visible_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._host(self.model_.visible_bias)

    @property
    def h_samples_(self) -> np.ndarray:
        check_is_fitted(self)
        model = self.model_
        trainer = model.trainer
        if trainer is None or trainer.hidden_chains is None:
            chains = self.batch_size if self.n_chains is None else self.n_chains
            return np.zeros((chains, model.n_hidden), dtype=model.array_dtype)
        return self._host(trainer.hidden_chains)

    @property
    def _n_features_out(self) -> int:
        check_is_fitted(self)
        return self.model_.n_hidden

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.dtype is None else [self.dtype])
        return tags

    # --------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        """The estimator's state with the model (and its training state) as plain arrays."""
        state = dict(super().__getstate__())  # object.__getstate__ returns __dict__ itself
        model = state.get("model_")
        if model is not None:
            if model.trainer is not None:
                contents = model.trainer.checkpoint_contents()
            else:
                meta, arrays = model.checkpoint_part()
                contents = Contents("rbm", {"model": meta}, arrays)
            state["model_"] = contents
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        contents = state.get("model_")
        if isinstance(contents, Contents):
            state = dict(state)
            model = RBM.from_checkpoint(contents.parts["model"], contents.arrays)
            if contents.kind == "trainer":
                Trainer.from_checkpoint(model, contents)
            state["model_"] = model
        super().__setstate__(state)
