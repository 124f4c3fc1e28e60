"""Turn a saved pytest-benchmark run into a markdown table of times and ratios.

Usage::

    python bench/report.py bench.json [--stat median|min] > table.md

For each group (one shape and k) it lists every contender's time, xprbm's ratio to the bare
matrix-product floor of the same device, and each peer's time divided by xprbm's on the same
device (above 1 means xprbm is faster). The header names the machine, thread counts and BLAS core.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict

#: benchmark function -> (label, role); the device comes from the test id
CONTENDERS = {
    "bench_xprbm_numpy": ("xprbm numpy", "xprbm"),
    "bench_xprbm_cupy": ("xprbm cupy", "xprbm"),
    "bench_gemm_floor_numpy": ("GEMM floor (numpy)", "floor"),
    "bench_gemm_floor_cupy": ("cuBLAS products called from Python (cp.matmul)", "other"),
    "bench_gemm_floor_cuda_graph": ("GEMM floor (cuBLAS, replayed from a CUDA graph)", "floor"),
    "bench_sklearn": ("scikit-learn BernoulliRBM", "peer"),
    "bench_rbms": ("rbms (PyTorch)", "peer"),
    "bench_torch_tutorial": ("tutorial PCD in PyTorch (as written)", "peer"),
    "bench_torch_handwritten": ("tutorial PCD in PyTorch, hand-written gradients", "peer"),
}


def classify(name: str) -> tuple[str, str, str]:
    """``(label, device, role)`` of a benchmark test name such as
    ``bench_rbms[pcd1-b100-784x256-cpu]``, ``bench_xprbm_numpy[pcd1-b100-784x256-numba]`` or
    ``bench_xprbm_cupy[pcd1-b100-784x256-direct]``."""
    function, _, params = name.partition("[")
    tokens = params.rstrip("]").split("-")
    label, role = CONTENDERS.get(function, (function, "other"))
    device = "cuda" if "cuda" in tokens or "cupy" in function or "cuda" in function else "cpu"
    if function == "bench_xprbm_numpy":
        kernels = "numba" if "numba" in tokens else "generic"
        label = f"xprbm numpy+{kernels}"
        role = "xprbm" if kernels == "numba" else "xprbm-generic"
    if function == "bench_xprbm_cupy" and "direct" in tokens:
        label, role = "xprbm cupy, launch by launch (no CUDA graph)", "xprbm-direct"
    return label, device, role


def header(machine: dict) -> list[str]:
    threads = machine.get("xprbm_threads", {})
    blas = threads.get("blas", [])
    blas_text = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
        f"{b.get('num_threads')} threads)" for b in blas) or "unknown"
    lines = [
        f"Machine: {machine.get('cpu', {}).get('brand_raw', machine.get('processor', '?'))}, "
        f"{threads.get('cpu_count', '?')} cores; Python {machine.get('python_version', '?')}",
        f"BLAS: {blas_text}; OPENBLAS_CORETYPE={threads.get('OPENBLAS_CORETYPE') or 'unset'}",
        f"Threads: numba {threads.get('numba_threads', '?')}, "
        f"torch {threads.get('torch_threads', '?')}; GPU: {threads.get('gpu', 'none')}",
    ]
    return lines


def table(benchmarks: list[dict], stat: str) -> list[str]:
    groups: dict[str, list[tuple[str, str, str, float]]] = defaultdict(list)
    for b in benchmarks:
        label, device, role = classify(b["name"])
        groups[b["group"] or "ungrouped"].append((label, device, role, b["stats"][stat]))
    out = []
    for group in sorted(groups, key=_group_key):
        rows = groups[group]
        ref = {dev: t for _, dev, role, t in rows if role == "xprbm"}
        floor = {dev: t for _, dev, role, t in rows if role == "floor"}
        out += [f"\n**{group}** ({stat} of the rounds, one epoch)\n",
                "| contender | device | seconds | / floor | peer / xprbm |",
                "|---|---|---:|---:|---:|"]
        for label, device, role, t in sorted(rows, key=lambda r: (r[1], r[3])):
            to_floor = f"{t / floor[device]:.2f}" if device in floor else ""
            vs = f"{t / ref[device]:.2f}" if role == "peer" and device in ref else ""
            out.append(f"| {label} | {device} | {t:.3f} | {to_floor} | {vs} |")
    return out


def _group_key(group: str) -> tuple:
    numbers = [int(n) for n in re.findall(r"\d+", group)]
    return (numbers[1:] + numbers[:1]) if numbers else [group]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file")
    parser.add_argument("--stat", default="median", choices=["median", "min", "mean"])
    args = parser.parse_args(argv)
    with open(args.json_file) as f:
        run = json.load(f)
    lines = header(run.get("machine_info", {}))
    lines.append(f"Run: {run.get('datetime', '?')}, pytest-benchmark {run.get('version', '?')}")
    lines += table(run["benchmarks"], args.stat)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
