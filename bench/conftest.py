"""Benchmark-suite setup: record the machine's thread counts and BLAS core with every run."""

from __future__ import annotations

import os


def thread_info() -> dict:
    """BLAS library, its core type and threads; Numba and PyTorch threads; GPU name."""
    info: dict = {
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", ""),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", ""),
        "cpu_count": os.cpu_count(),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"
        ]
    except ImportError:
        pass
    try:
        import numba

        info["numba_threads"] = numba.get_num_threads()
    except ImportError:
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["xprbm_threads"] = thread_info()
