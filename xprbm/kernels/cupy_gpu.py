"""CuPy kernels for the GPU: counter-based sampling and the pieces of the training update.

The sampling and training kernels live in one CUDA source, compiled once per floating dtype
(:func:`_module`); the input check is a CuPy ``ReductionKernel`` (:func:`count_invalid`).
Random numbers are made inside the kernels from ``(base, element index)`` with the SplitMix64
hash of :mod:`xprbm.rng` (no uniform buffer, no cuRAND state arrays), so a seed gives the same
uniforms on the GPU as on the CPU.

The sampling kernels (:func:`uniform`, :func:`bernoulli_`) get their draw's base from the
host. The training kernels instead read the stream's step from a one-element device counter,
written by :func:`gather_rows_` at the start of each update, and derive each draw's base from
it: every launch of an update then has fixed arguments, so a CUDA graph captured once replays
every later update (:class:`xprbm.kernels.cupy_update.CupyUpdate`, :func:`capture`). Matrix
products call cuBLAS directly (:func:`gemm`) in the data's dtype: float32 ``sgemm`` never uses
TF32 tensor cores, whatever ``CUPY_TF32`` says.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import cupy as cp
import numpy as np

from ..rng import GOLDEN, MIX1, MIX2

_SOURCE = r"""
typedef REAL real;

__device__ __forceinline__ unsigned long long xprbm_mix(unsigned long long z) {
    z = (z ^ (z >> 30)) * MIX1ULL;
    z = (z ^ (z >> 27)) * MIX2ULL;
    return z ^ (z >> 31);
}

/* base of draw number `step` of the stream `key` (xprbm.rng.stream_base) */
__device__ __forceinline__ unsigned long long xprbm_base(unsigned long long key,
                                                         unsigned long long step) {
    return xprbm_mix(key ^ xprbm_mix((step + 1ULL) * GOLDENULL));
}

/* uniform number `index` of the draw `base`: the hash's top 24 bits times 2**-24 */
__device__ __forceinline__ real xprbm_uniform(unsigned long long base, long long index) {
    unsigned long long z = xprbm_mix(base + ((unsigned long long)index + 1ULL) * GOLDENULL);
    return (real)(z >> 40) * (real)5.9604644775390625e-08;
}

__device__ __forceinline__ real xprbm_sigmoid(real x) {
    x = x < (real)-88 ? (real)-88 : (x > (real)88 ? (real)88 : x);
    return (real)1 / ((real)1 + EXP(-x));
}

#define XPRBM_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

extern "C" __global__ void xprbm_uniform_fill(real* out, long long n,
                                              unsigned long long base) {
    XPRBM_LOOP(i, n) out[i] = xprbm_uniform(base, i);
}

/* x[i] = (u < sigmoid(x[i] + bias[i % n_units])) for the draw `base` */
__device__ __forceinline__ void xprbm_draw(real* x, const real* bias, long long n_units,
                                           long long n, unsigned long long base) {
    XPRBM_LOOP(i, n) {
        x[i] = xprbm_uniform(base, i) < xprbm_sigmoid(x[i] + bias[i % n_units]) ? 1 : 0;
    }
}

/* x = (u < sigmoid(x + bias)), x of shape (n / n_units, n_units) */
extern "C" __global__ void xprbm_bernoulli(real* x, const real* bias, long long n_units,
                                           long long n, unsigned long long base) {
    xprbm_draw(x, bias, n_units, n, base);
}

/* The same draw with base (key, counter[0] + draw): the training update's form. */
extern "C" __global__ void xprbm_bernoulli_counted(
        real* x, const real* bias, long long n_units, long long n, unsigned long long key,
        const unsigned long long* counter, long long draw) {
    xprbm_draw(x, bias, n_units, n, xprbm_base(key, counter[0] + draw));
}

/* out[r, :] = X[rows[r], :] for a strided X; also counter[0] = step (the update's first
   draw), so that the kernels after it need no argument that changes between updates */
extern "C" __global__ void xprbm_gather(
        const real* X, long long row_stride, long long col_stride, const long long* rows,
        long long n_cols, long long n, real* out, unsigned long long step,
        unsigned long long* counter) {
    XPRBM_LOOP(i, n) {
        long long r = i / n_cols, j = i - r * n_cols;
        out[i] = X[rows[r] * row_stride + j * col_stride];
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] = step;
}

/* p = sigmoid(hid + bias); the first n_sampled elements are also drawn into samples with
   base (key, counter[0] + draw); then hid = row_scale[row] * p */
extern "C" __global__ void xprbm_hidden(
        real* hid, const real* bias, const real* row_scale, long long n_units, long long n,
        real* samples, long long n_sampled, unsigned long long key,
        const unsigned long long* counter, long long draw) {
    unsigned long long base = xprbm_base(key, counter[0] + draw);
    XPRBM_LOOP(i, n) {
        long long r = i / n_units;
        real p = xprbm_sigmoid(hid[i] + bias[i - r * n_units]);
        if (i < n_sampled) samples[i] = xprbm_uniform(base, i) < p ? 1 : 0;
        hid[i] = row_scale[r] * p;
    }
}

/* The velocities already hold momentum * v + lr * gradient; subtract the weight decay
   (decay_step = lr * decay) and move every parameter by its velocity. */
extern "C" __global__ void xprbm_apply(
        real* W, real* vW, long long n_weights, real* b, real* vb, long long n_visible,
        real* c, real* vc, long long n_hidden, real decay_step) {
    XPRBM_LOOP(i, n_weights + n_visible + n_hidden) {
        if (i < n_weights) {
            real v = vW[i] - decay_step * W[i];
            vW[i] = v;
            W[i] += v;
        } else if (i < n_weights + n_visible) {
            b[i - n_weights] += vb[i - n_weights];
        } else {
            c[i - n_weights - n_visible] += vc[i - n_weights - n_visible];
        }
    }
}
"""

#: threads per block; blocks are capped and the kernels loop over the rest
_BLOCK = 256
_MAX_BLOCKS = 1 << 16
_CTYPES = {np.dtype(np.float32): ("float", "expf"), np.dtype(np.float64): ("double", "exp")}


def source(dtype: Any) -> str:
    """The CUDA source of every kernel for ``dtype`` (float32 or float64)."""
    ctype, exp = _CTYPES[np.dtype(dtype)]
    text = _SOURCE.replace("REAL", ctype).replace("EXP", exp)
    for name, value in (("GOLDEN", GOLDEN), ("MIX1", MIX1), ("MIX2", MIX2)):
        text = text.replace(f"{name}ULL", f"{value}ULL")
    return text


@functools.cache
def _module(dtype: np.dtype) -> cp.RawModule:
    """Every kernel for ``dtype`` (NVRTC compiles the source on first use; CuPy caches it)."""
    return cp.RawModule(code=source(dtype))


@functools.cache
def _kernel(dtype: np.dtype, name: str) -> Any:
    return _module(dtype).get_function(name)


def _launch(name: str, n: int, dtype: Any, *args: Any) -> None:
    """Launch kernel ``name`` over ``n`` elements on the current stream."""
    if n == 0:
        return
    kernel = _kernel(np.dtype(dtype), name)
    kernel((min(-(-n // _BLOCK), _MAX_BLOCKS),), (_BLOCK,), args)


def uniform(base: np.uint64, out: cp.ndarray) -> None:
    """Fill ``out`` (C-contiguous) with the counter-based uniforms of draw ``base``."""
    _launch("xprbm_uniform_fill", out.size, out.dtype, out, np.int64(out.size), np.uint64(base))


def bernoulli_(x: cp.ndarray, bias: cp.ndarray, base: np.uint64) -> None:
    """In place: ``x = (u < sigmoid(x + bias))``; ``x`` C-contiguous (n_rows, n_units),
    ``bias`` (n_units,) of ``x``'s dtype."""
    bias = cp.ascontiguousarray(bias, dtype=x.dtype)
    _launch("xprbm_bernoulli", x.size, x.dtype, x, bias, np.int64(x.shape[-1]),
            np.int64(x.size), np.uint64(base))


@functools.cache
def _invalid_counter(binary: bool) -> cp.ReductionKernel:
    bad = "x != 0 && x != 1" if binary else "x < 0 || x > 1"
    return cp.ReductionKernel("T x", "int64 count", f"(x != x || {bad}) ? 1 : 0", "a + b",
                              "count = a", "0", "xprbm_count_invalid", reduce_type="long long")


def count_invalid(x: cp.ndarray, binary: bool) -> int:
    """Number of entries of the floating array ``x`` that are not 0/1 (``binary``) or in
    [0, 1]; NaN and infinities count as invalid. One fused reduction."""
    return int(_invalid_counter(bool(binary))(x))


# ------------------------------------------------------------------ training update
def gather_rows_(X: cp.ndarray, rows: cp.ndarray, out: cp.ndarray, step: int,
                 counter: cp.ndarray) -> None:
    """``out[r] = X[rows[r]]`` and ``counter[0] = step``.

    Parameters
    ----------
    X : cupy.ndarray, shape (n_samples, n_visible), any strides, ``out``'s dtype
    rows : cupy.ndarray of int64, shape (n_batch,)
    out : cupy.ndarray, shape (n_batch, n_visible), C-contiguous
    step : int
        The random stream's step at the start of the update.
    counter : cupy.ndarray of uint64, shape (1,)
    """
    itemsize = X.dtype.itemsize
    _launch("xprbm_gather", out.size, out.dtype, X, np.int64(X.strides[0] // itemsize),
            np.int64(X.strides[1] // itemsize), rows, np.int64(out.shape[1]),
            np.int64(out.size), out, np.uint64(step), counter)


def bernoulli_counted_(x: cp.ndarray, bias: cp.ndarray, key: np.uint64,
                       counter: cp.ndarray, draw: int) -> None:
    """:func:`bernoulli_` with the base of draw ``counter[0] + draw`` of stream ``key``.

    Parameters
    ----------
    x : cupy.ndarray, shape (n_rows, n_units), C-contiguous
        Fields on entry, 0/1 samples on exit.
    bias : cupy.ndarray, shape (n_units,), C-contiguous, ``x``'s dtype
    key : numpy.uint64
        The random stream's key (:class:`xprbm.rng.CounterRNG`).
    counter : cupy.ndarray of uint64, shape (1,)
        The stream's step at the start of the update (:func:`gather_rows_`).
    draw : int
        This draw's number within the update.
    """
    _launch("xprbm_bernoulli_counted", x.size, x.dtype, x, bias, np.int64(x.shape[1]),
            np.int64(x.size), key, counter, np.int64(draw))


def hidden_(hid: cp.ndarray, bias: cp.ndarray, row_scale: cp.ndarray, samples: cp.ndarray,
            key: np.uint64, counter: cp.ndarray, draw: int) -> None:
    """In place: ``hid = row_scale[:, None] * sigmoid(hid + bias)``; the first
    ``samples.shape[0]`` rows are also drawn into ``samples`` (draw ``counter[0] + draw``).

    Parameters
    ----------
    hid : cupy.ndarray, shape (n_rows, n_hidden), C-contiguous
    bias : cupy.ndarray, shape (n_hidden,)
    row_scale : cupy.ndarray, shape (n_rows,)
    samples : cupy.ndarray, shape (n_sampled, n_hidden), n_sampled <= n_rows (may be 0)
    key, counter, draw
        As for :func:`bernoulli_counted_`.
    """
    _launch("xprbm_hidden", hid.size, hid.dtype, hid, bias, row_scale, np.int64(hid.shape[1]),
            np.int64(hid.size), samples if samples.size else hid, np.int64(samples.size), key,
            counter, np.int64(draw))


def apply_velocities_(params: tuple, velocities: tuple, decay_step: float) -> None:
    """``vW -= decay_step * W``; then every parameter ``+= velocity`` (one launch).

    ``params`` and ``velocities`` are ``(W, b, c)``, C-contiguous, of one dtype.
    """
    (W, b, c), (vW, vb, vc) = params, velocities
    _launch("xprbm_apply", W.size + b.size + c.size, W.dtype, W, vW, np.int64(W.size), b, vb,
            np.int64(b.size), c, vc, np.int64(c.size), W.dtype.type(decay_step))


class _Cublas:
    """A cuBLAS handle of xprbm's own and the entry points :func:`gemm` needs, via ctypes.

    CuPy's cuBLAS wrappers refuse to run while a stream is being captured into a CUDA graph,
    although cuBLAS supports it (since CUDA 12.2 its workspace comes from the stream-ordered
    allocator). The library is the copy CuPy has loaded; the handle (default math mode: no
    TF32; host scalars) belongs to xprbm, so CuPy's own handle is left as it was.
    """

    def __init__(self) -> None:
        cp.cuda.device.get_cublas_handle()  # makes CuPy load its cuBLAS
        library = ctypes.CDLL(_loaded_cublas())
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        functions = {"create": [pointer], "set_stream": [pointer, pointer],
                     "set_pointer_mode": [pointer, integer]}
        for name, argtypes in functions.items():
            function = getattr(library, "cublas" + name.title().replace("_", "") + "_v2")
            function.argtypes, function.restype = argtypes, integer
            setattr(self, name, function)
        self.products = {}
        for char, dtype in (("S", np.float32), ("D", np.float64)):
            product = getattr(library, f"cublas{char}gemm_v2")
            product.argtypes = [pointer, integer, integer, integer, integer, integer, pointer,
                                pointer, integer, pointer, integer, pointer, pointer, integer]
            product.restype = integer
            self.products[np.dtype(dtype)] = product
        self.handles: dict[int, int] = {}

    def handle(self) -> int:
        """The handle of the current device (created on first use, kept for the process)."""
        device = cp.cuda.runtime.getDevice()
        if device not in self.handles:
            handle = ctypes.c_void_p()
            _check(self.create(ctypes.byref(handle)))
            _check(self.set_pointer_mode(handle, _POINTER_MODE_HOST))
            self.handles[device] = handle.value
        return self.handles[device]


def _loaded_cublas() -> str:
    """Path of the cuBLAS library mapped into this process (its soname if none is listed)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                path = fields[5].strip().removesuffix(" (deleted)") if len(fields) == 6 else ""
                if "/libcublas.so" in path:
                    return path
    except OSError:
        pass
    return f"libcublas.so.{cp.cuda.runtime.runtimeGetVersion() // 1000}"


@functools.cache
def cublas() -> _Cublas:
    """Load cuBLAS for :func:`gemm` (raises OSError or AttributeError where it cannot)."""
    return _Cublas()


def _check(status: int) -> None:
    if status != 0:
        raise RuntimeError(f"cuBLAS failed with status {status}")


#: cuBLAS operation codes: not transposed, transposed
_OP = (0, 1)
#: cuBLAS pointer mode: scalars in host memory
_POINTER_MODE_HOST = 0


def gemm(a: cp.ndarray, b: cp.ndarray, out: cp.ndarray, alpha_beta: np.ndarray, *,
         trans_a: bool = False, trans_b: bool = False) -> None:
    """``out = alpha * op(a) @ op(b) + beta * out`` with cuBLAS, on the current stream.

    All three arrays are 2-D, C-contiguous and of one dtype; ``op(x)`` is ``x.T`` when its
    flag is set. cuBLAS is column-major, so it computes ``out.T = op(b).T @ op(a).T`` on the
    same memory. Works while the stream is being captured into a CUDA graph.

    Parameters
    ----------
    a : cupy.ndarray, shape (m, k), or (k, m) with ``trans_a``
    b : cupy.ndarray, shape (k, n), or (n, k) with ``trans_b``
    out : cupy.ndarray, shape (m, n)
    alpha_beta : numpy.ndarray, shape (2,), ``out``'s dtype
        The scalars, read from host memory when the product is launched (or captured).
    """
    m, n = out.shape
    k = a.shape[0] if trans_a else a.shape[1]
    library = cublas()
    handle = library.handle()
    _check(library.set_stream(handle, cp.cuda.get_current_stream().ptr))
    address = alpha_beta.ctypes.data
    _check(library.products[out.dtype](
        handle, _OP[trans_b], _OP[trans_a], n, m, k, address, b.data.ptr, b.shape[1],
        a.data.ptr, a.shape[1], address + alpha_beta.itemsize, out.data.ptr, n))


def address(x: cp.ndarray) -> int:
    """The device address of an array's first element (what a captured graph holds)."""
    return x.data.ptr


def capture(enqueue: Any) -> Any:
    """Record the launches that ``enqueue()`` makes into a CUDA graph; nothing runs yet.

    The capture uses a private stream; launch the graph with ``graph.launch()`` on the
    current stream. An error inside ``enqueue`` ends the capture and is raised again.
    """
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        try:
            enqueue()
        except BaseException:
            try:
                stream.end_capture()
            except Exception:  # an invalidated capture also fails to end; report the first
                pass
            raise
        return stream.end_capture()
