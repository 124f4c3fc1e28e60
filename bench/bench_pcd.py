"""PCD-k training epochs, float32, grouped by shape and k, every contender timed in one run.

Shapes: (batch 100, 784x256) and (batch 1000, 784x1024); k = 1 and 10. Contenders: xprbm on
NumPy with Numba kernels and with the generic kernels, xprbm on CuPy (GPU present; with CUDA
graphs and launch by launch), the bare matrix products of the same updates (NumPy; on a GPU
called from Python and replayed from a CUDA graph), scikit-learn's BernoulliRBM (PCD-1 only),
the ``rbms`` package and two PyTorch re-implementations of the tutorial's PCD code, as written
and with hand-written gradients (CPU and CUDA when present). Time with::

    python -m pytest bench/bench_pcd.py --benchmark-enable --benchmark-json=bench.json
    python bench/report.py bench.json

Without ``--benchmark-enable`` (as in CI) each case runs once on 2,000 rows: a smoke test.
"""

from __future__ import annotations

import pytest
from common import SHAPES, GemmFloor, GraphGemmFloor, epoch_rows, mnist_like
from peers import RbmsEpoch, SklearnEpoch, TorchTutorialEpoch

import xprbm
from xprbm.backend import BackendUnavailableError

KS = (1, 10)
CASES = [(shape, k) for shape in SHAPES for k in KS]


def case_id(case: tuple[str, int]) -> str:
    shape, k = case
    return f"pcd{k}-{shape}"


@pytest.fixture(scope="module")
def rows(request):
    return mnist_like(epoch_rows(request.config))


def _cupy():
    try:
        return xprbm.get_backend("cupy").xp
    except BackendUnavailableError:
        pytest.skip("no CUDA device (CuPy)")


def _torch_device(device):
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device (PyTorch)")
    return device


def _time(benchmark, case, fn):
    benchmark.group = case_id(case)
    benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=0)


def _xprbm_epoch(rows, case, backend, kernels):
    shape, k = case
    batch, n_visible, n_hidden = SHAPES[shape]
    rbm = xprbm.RBM(n_visible, n_hidden, backend=backend, fast_path=kernels, seed=0)
    X = rbm.visible(rows, binary=True)  # data on the device beforehand, as a user would
    # the plain PCD update that the five-product floor describes (centring adds two rank-one
    # corrections: bench/shared_cpu.py and the README give its cost)
    rbm.fit(X[:batch], epochs=1, batch_size=batch, k=k, centered=False,
            progress=False)  # compile + init
    trainer = rbm.trainer
    return lambda: trainer.run(X, epochs=1, progress=False)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("kernels", ["numba", "generic"])
def bench_xprbm_numpy(benchmark, rows, case, kernels):
    _time(benchmark, case, _xprbm_epoch(rows, case, "numpy", kernels))


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("launches", ["graph", "direct"])
def bench_xprbm_cupy(benchmark, monkeypatch, rows, case, launches):
    """xprbm on CuPy, replaying a CUDA graph per update, or launch by launch."""
    _cupy()
    monkeypatch.setenv("XPRBM_CUDA_GRAPHS", "1" if launches == "graph" else "0")
    _time(benchmark, case, _xprbm_epoch(rows, case, "cupy", "auto"))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def bench_gemm_floor_numpy(benchmark, rows, case):
    batch, _, n_hidden = SHAPES[case[0]]
    _time(benchmark, case, GemmFloor(rows, n_hidden, batch, k=case[1]).epoch)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def bench_gemm_floor_cupy(benchmark, rows, case):
    cp = _cupy()
    batch, _, n_hidden = SHAPES[case[0]]
    floor = GemmFloor(cp.asarray(rows), n_hidden, batch, k=case[1], xp=cp)

    def epoch():
        floor.epoch()
        cp.cuda.get_current_stream().synchronize()

    _time(benchmark, case, epoch)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def bench_gemm_floor_cuda_graph(benchmark, rows, case):
    """The cuBLAS products alone, replayed from a CUDA graph: the GPU's true floor."""
    cp = _cupy()
    batch, _, n_hidden = SHAPES[case[0]]
    floor = GraphGemmFloor(cp.asarray(rows), n_hidden, batch, k=case[1])

    def epoch():
        floor.epoch()
        cp.cuda.get_current_stream().synchronize()

    _time(benchmark, case, epoch)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == 1], ids=case_id)
def bench_sklearn(benchmark, rows, case):
    pytest.importorskip("sklearn")
    batch, _, n_hidden = SHAPES[case[0]]
    _time(benchmark, case, SklearnEpoch(rows, n_hidden, batch).epoch)


def _time_torch_peer(benchmark, rows, case, device, peer, **options):
    """Time a PyTorch peer (``peer(rows, n_hidden, batch, k, device, **options)``) on CPU or
    CUDA."""
    batch, _, n_hidden = SHAPES[case[0]]
    epoch = peer(rows, n_hidden, batch, case[1], _torch_device(device), **options).epoch
    _time(benchmark, case, epoch)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def bench_rbms(benchmark, rows, case, device):
    pytest.importorskip("rbms")
    _time_torch_peer(benchmark, rows, case, device, RbmsEpoch)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def bench_torch_tutorial(benchmark, rows, case, device):
    _time_torch_peer(benchmark, rows, case, device, TorchTutorialEpoch, variant="tutorial")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def bench_torch_handwritten(benchmark, rows, case, device):
    _time_torch_peer(benchmark, rows, case, device, TorchTutorialEpoch, variant="handwritten")
