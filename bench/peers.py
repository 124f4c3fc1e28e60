"""Adapters that run one training epoch of each peer library the same way.

Every adapter takes the epoch's rows (NumPy, float32, binary) at construction and exposes
``epoch()``; GPU adapters synchronise before returning so that timings are honest.
"""

from __future__ import annotations

import numpy as np


class SklearnEpoch:
    """scikit-learn ``BernoulliRBM``: one ``fit`` with ``n_iter=1`` (PCD-1 only)."""

    def __init__(self, X: np.ndarray, n_hidden: int, batch: int) -> None:
        from sklearn.neural_network import BernoulliRBM

        self.X = X
        self.model = BernoulliRBM(n_components=n_hidden, batch_size=batch, n_iter=1,
                                  learning_rate=0.01, random_state=0)

    def epoch(self) -> None:
        self.model.fit(self.X)


class RbmsEpoch:
    """The ``rbms`` package (PyTorch): its PCD update (``fit_batch_pcd`` + SGD step) per batch.

    Uses its Bernoulli-Bernoulli machine, its chain initialisation and its own gradient
    (centered, normalised, as its trainer does by default).
    """

    def __init__(self, X: np.ndarray, n_hidden: int, batch: int, k: int,
                 device: str = "cpu") -> None:
        import torch
        from rbms.bernoulli_bernoulli.classes import BBRBM
        from rbms.training.pcd import fit_batch_pcd

        self.torch, self.fit_batch_pcd, self.device, self.k = torch, fit_batch_pcd, device, k
        data = torch.from_numpy(X).to(device)
        self.batches = [data[i:i + batch] for i in range(0, data.shape[0] - batch + 1, batch)]
        self.weights = torch.ones(batch, device=device)
        g = torch.Generator().manual_seed(0)
        W = (torch.randn(X.shape[1], n_hidden, generator=g) * 0.01).to(device)
        self.params = BBRBM(W, torch.zeros(X.shape[1]), torch.zeros(n_hidden), device=device)
        self.params.init_grad()
        self.chains = self.params.init_chains(num_samples=batch)
        self.optimizer = torch.optim.SGD(self.params.parameters(), lr=0.01, maximize=True)

    def epoch(self) -> None:
        for v in self.batches:
            self.optimizer.zero_grad(set_to_none=False)
            self.chains, _ = self.fit_batch_pcd((v, self.weights), self.chains, self.params,
                                                gibbs_steps=self.k, beta=1.0)
            self.optimizer.step()
        if self.device != "cpu":
            self.torch.cuda.synchronize()


class TorchTutorialEpoch:
    """A PyTorch PCD-k of ``bench/torch_tutorial.py`` (``variant``: ``"tutorial"`` as
    written, or ``"handwritten"`` gradients): one epoch of updates."""

    def __init__(self, X: np.ndarray, n_hidden: int, batch: int, k: int,
                 device: str = "cpu", variant: str = "tutorial") -> None:
        import torch
        from torch_tutorial import HandWrittenPCD, TutorialPCD

        self.torch = torch
        model = {"tutorial": TutorialPCD, "handwritten": HandWrittenPCD}[variant]
        self.model = model(X.shape[1], n_hidden, batch_size=batch, k=k, device=device)
        data = torch.from_numpy(X).to(self.model.device)  # on the device once, as for xprbm
        self.batches = [data[i:i + batch] for i in range(0, data.shape[0], batch)]

    def epoch(self) -> None:
        if hasattr(self.model, "monitoring_costs"):  # the tutorial averages them per epoch
            self.model.monitoring_costs.clear()
        for batch in self.batches:
            self.model.update(batch)
        if self.model.device.type == "cuda":
            self.torch.cuda.synchronize()
