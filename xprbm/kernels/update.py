"""The training update: its settings, the order of its random draws, the interface of its
update objects and the generic one (:func:`xprbm.kernels.make_update` chooses the path).

Every path (:func:`xprbm.kernels.generic.update`, the Numba update of
:mod:`.numba_step`, the CuPy update of :mod:`.cupy_update`) is an object called as
``update(X, rows, params, velocity, chains, rng, settings)``. The arrays that outlive an
update (parameters, momentum buffers, chains) belong to the caller and arrive as arguments,
in dicts that the update may rebind to arrays of the layout it needs; an update object keeps
nothing but scratch space.

The draws of one CD-k / PCD-k update are the ``2k`` consecutive bases of the training stream
(:func:`draw_bases`), taken in this order:

- CD: the batch's hidden sample that starts the chain, then ``v_1, h_1, ..., h_{k-1}, v_k``;
- PCD: ``v_1, h_1, ..., h_{k-1}, v_k`` from the kept hidden states, then the hidden states
  kept for the next update.

Draw ``d`` fills its array with the uniforms of base ``d`` (element ``i`` row-major uses
counter ``i``; see :mod:`xprbm.rng`), so every path draws the same numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import Backend, single_thread_blas_if_small
from ..rng import CounterRNG
from . import generic, tempering

PARAMETERS = ("weights", "visible_bias", "hidden_bias")


@dataclass(frozen=True)
class UpdateLayout:
    """What an update object's buffers are sized for.

    Attributes
    ----------
    n_visible, n_hidden : int
    method : {"pcd", "cd", "pt"}
    batch_size : int
        Largest batch (a short last batch is fine).
    n_chains : int
        Persistent chains (PCD, PT); ignored by CD, which runs one chain per batch row.
    centered : bool
        The update takes centring offsets.
    n_temperatures : int
        Replicas per chain (PT).
    min_beta : float
        Inverse temperature of the hottest replica (PT; see
        :func:`xprbm.kernels.tempering.ladder`).
    """

    n_visible: int
    n_hidden: int
    method: str
    batch_size: int
    n_chains: int
    centered: bool = False
    n_temperatures: int = 1
    min_beta: float = 1.0


@dataclass(frozen=True)
class UpdateSettings:
    """The numbers one update uses: Gibbs steps (PT: sweeps), the momentum step's
    coefficients, and the rate at which centring offsets follow the batch means."""

    k: int
    learning_rate: float
    momentum: float
    weight_decay: float
    offset_rate: float = 0.0


def draw_bases(rng: CounterRNG, k: int) -> np.ndarray:
    """The ``2k`` draw bases of one update, in the order the module docstring gives.

    Returns
    -------
    ndarray of uint64, shape (2k,)
        The stream has advanced by ``2k`` draws.
    """
    return np.array([rng.next_base() for _ in range(2 * k)], dtype=np.uint64)


class Update:
    """What every update object offers: its policies for the training loop, and the call.

    Parameters
    ----------
    backend : Backend
    layout : UpdateLayout
    """

    #: hold BLAS at one thread whatever the sizes (an update that runs its own threads)
    single_thread_blas = False

    def reads_data_of(self, dtype: Any) -> bool:
        """Whether the update gathers batches straight from training data of ``dtype`` (a
        NumPy dtype); False means: pass the data in the model's dtype."""
        return False

    def __init__(self, backend: Backend, layout: UpdateLayout) -> None:
        self.backend = backend
        self.layout = layout

    def prepare(self, X: Any) -> None:
        """Compile what the update runs on data like ``X`` (see :func:`xprbm.kernels.prepare`);
        nothing here: the array code has nothing to compile."""

    def blas_threads(self) -> contextlib.AbstractContextManager:
        """The BLAS thread policy for a loop of updates: one thread while products are small
        (see :func:`xprbm.backend.single_thread_blas_if_small`), or always."""
        layout = self.layout
        multiply_adds = (layout.batch_size + layout.n_chains) * layout.n_visible * layout.n_hidden
        return single_thread_blas_if_small(self.backend.name, multiply_adds,
                                           always=self.single_thread_blas)

    def __call__(self, X: Any, rows: Any, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, rng: CounterRNG,
                 settings: UpdateSettings, offsets: dict[str, Any] | None = None) -> None:
        """One update, in place (the dicts' entries may be rebound).

        Parameters
        ----------
        X : array, shape (n_samples, n_visible)
        rows : array of int, shape (b,)
            Rows of ``X`` in this batch, ``1 <= b <= layout.batch_size``.
        params, velocity : dict
            ``weights``, ``visible_bias``, ``hidden_bias`` and their momentum buffers.
        chains : dict or None
            PCD's ``visible`` (C, n_visible) and ``hidden`` (C, n_hidden) chain states.
        rng : CounterRNG
            The training stream; advances by ``2k`` draws (PT: ``3k``).
        settings : UpdateSettings
        offsets : dict or None
            Centring offsets ``visible`` (n_visible,) and ``hidden`` (n_hidden,), replaced by
            the moved ones (only updates built for a ``centered`` layout take them).
        """
        raise NotImplementedError


class GenericUpdate(Update):
    """The portable update (:func:`xprbm.kernels.generic.update`) on any backend, with
    centring; its draws go through ``sample`` (default: :func:`generic.bernoulli`).

    Parameters
    ----------
    backend : Backend
    layout : UpdateLayout
    sample : callable, optional
        ``sample(field, base)``, as :func:`xprbm.kernels.sampler` makes.
    """

    def __init__(self, backend: Backend, layout: UpdateLayout,
                 sample: Callable[[Any, int], Any] | None = None) -> None:
        super().__init__(backend, layout)
        self.sample = sample

    def __call__(self, X: Any, rows: Any, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, rng: CounterRNG,
                 settings: UpdateSettings, offsets: dict[str, Any] | None = None) -> None:
        """One update (see :meth:`Update.__call__`)."""
        generic.update(self.backend, X, rows, params, velocity, chains,
                       draw_bases(rng, settings.k), settings, self.sample, offsets)


class TemperedUpdate(GenericUpdate):
    """Parallel tempering as the negative phase (Desjardins et al. 2010; Cho, Raiko & Ilin
    2010): each update runs ``k`` sweeps of every replica with their swaps
    (:func:`xprbm.kernels.tempering.sweep_and_swap`, three draws each) and takes the
    negative statistics from the replicas at β = 1.

    ``chains`` holds ``visible`` (R * C, n_visible), the replicas in the layout of
    :mod:`.tempering`, and ``swaps`` (a :class:`.tempering.SwapRecord`); the ladder is the
    layout's (``n_temperatures``, ``min_beta``).
    """

    def __init__(self, backend: Backend, layout: UpdateLayout, dtype: Any,
                 sample: Callable[[Any, int], Any]) -> None:
        super().__init__(backend, layout, sample)
        self.betas = tempering.ladder(layout.n_temperatures, layout.min_beta)
        self.beta_col = tempering.beta_column(backend, self.betas, layout.n_chains, dtype)

    def __call__(self, X: Any, rows: Any, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, rng: CounterRNG,
                 settings: UpdateSettings, offsets: dict[str, Any] | None = None) -> None:
        """One update (see :meth:`Update.__call__`)."""
        xp = self.backend.xp
        batch, pos_field = generic.positive_phase(xp, X, rows, params)
        pos = generic.sigmoid(xp, pos_field)
        replicas = chains["visible"]
        for _ in range(settings.k):
            bases = tuple(rng.next_base() for _ in range(tempering.DRAWS_PER_SWEEP))
            replicas = tempering.sweep_and_swap(self.backend, self.sample, params, replicas,
                                                self.betas, self.beta_col, chains["swaps"],
                                                bases)
        chains["visible"] = replicas
        v = replicas[:self.layout.n_chains, :]
        neg = generic.sigmoid(xp, v @ params["weights"] + params["hidden_bias"])
        generic.gradient_step(xp, batch, pos, v, neg, params, velocity, settings, offsets)
