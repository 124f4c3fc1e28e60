"""The house rules of DESIGN.md, checked on the source: layers without import circles,
accelerators only in ``backend.py`` and ``kernels/``, one settings table that the command
line follows, and checkpoints of format 1 that still resume bit for bit."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest

import xprbm
from xprbm import checkpoint, cli, kernels
from xprbm.train import CONFIG_FIELDS, SETTINGS, SETTINGS_BEFORE_THEY_EXISTED, TrainConfig

PACKAGE = Path(xprbm.__file__).parent
FIXTURES = Path(__file__).parent / "fixtures"
#: the layers of DESIGN.md, top first; a module may import its own layer and those below
LAYERS = [
    {"cli", "runs", "__main__"},
    {"io", "sklearn"},
    {"rbm"},
    {"train"},
    {"metrics", "partition", "sampling"},
    {"kernels"},
    {"backend", "blocks", "rng", "validation", "checkpoint", "progress", "datasets", "plot",
     "_version"},
]
#: where optional accelerators, raw pointers and environment switches may appear
ACCELERATED = ("backend.py", "kernels/")


def _modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py"))}


def _runtime_imports(tree: ast.Module, path: str) -> list[str]:
    """Absolute names of the xprbm modules and third-party packages imported anywhere in the
    file (inside functions too), except in ``if TYPE_CHECKING:`` blocks."""
    package = ["xprbm", *Path(path).parent.parts]
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import a, b
                names.extend(f"{module}.{alias.name}" for alias in node.names)
            else:
                names.append(module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _layer(module: str) -> int | None:
    """Layer index of an ``xprbm.*`` module name (its top-level part)."""
    parts = module.split(".")
    if parts[0] != "xprbm" or len(parts) == 1:
        return None
    for index, layer in enumerate(LAYERS):
        if parts[1] in layer:
            return index
    raise AssertionError(f"module {module} is in no layer of DESIGN.md")


def test_every_import_goes_to_the_same_layer_or_below_and_never_in_a_circle():
    graph: dict[str, set[str]] = {}
    for path, tree in _modules().items():
        name = ("xprbm." + path.removesuffix(".py").replace("/", ".")).removesuffix(".__init__")
        mine = _layer(name)
        imported = {m for m in _runtime_imports(tree, path) if m.startswith("xprbm")}
        assert "xprbm" not in imported or mine is None, f"{path} imports the package root"
        for other in imported - {"xprbm"}:
            theirs = _layer(other)
            assert mine is None or theirs >= mine, f"{path} (layer {mine}) imports {other}"
        graph[name] = {m for m in imported if m != name}

    def known(module: str) -> str:  # "xprbm.kernels.generic" -> a node of the graph
        while module not in graph and "." in module:
            module = module.rsplit(".", 1)[0]
        return module

    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(node):]
                                                                 + [node]))
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            if known(nxt) != node and not known(nxt).startswith(node + "."):
                walk(known(nxt), [*path, node])
        done.add(node)

    for node in sorted(graph):
        if node != "xprbm":
            walk(node, [])


def test_accelerators_pointers_and_switches_only_in_backend_and_kernels():
    for path, tree in _modules().items():
        if path.startswith(ACCELERATED):
            continue
        roots = {name.split(".")[0] for name in _runtime_imports(tree, path)}
        assert not roots & {"numba", "cupy", "llvmlite", "ctypes"}, path
        source = (PACKAGE / path).read_text(encoding="utf-8")
        for word in (".data.ptr", "ctypes"):
            assert word not in source, f"{word} in {path}"
        # XPRBM_DATA says where data files live; every other variable switches computation
        assert set(re.findall(r"XPRBM_[A-Z_]+", source)) <= {"XPRBM_DATA"}, path


def test_every_random_stream_comes_from_the_table():
    """No bare stream numbers: ``from_seed`` takes a name of ``rng.STREAMS``."""
    for path, tree in _modules().items():
        if path == "rng.py":  # stream_for passes the name it was given
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if called in ("from_seed", "stream_for"):
                stream = node.args[1] if len(node.args) > 1 else None
                assert isinstance(stream, ast.Constant) and isinstance(stream.value, str), path
                assert stream.value in xprbm.rng.STREAMS, (path, stream.value)
    assert len(set(xprbm.rng.STREAMS.values())) == len(xprbm.rng.STREAMS)


def test_the_command_line_follows_the_settings_table():
    parser = cli.build_parser()
    train = parser.parse_args(["train"])
    api = TrainConfig()
    for name, setting in SETTINGS.items():
        if name in CONFIG_FIELDS:
            assert getattr(api, name) == setting.default, name
            assert getattr(train, name) is None  # resolved from the table, see below
        for flag in setting.flags:
            value = [] if setting.kind == "bool" else [_example(setting)]
            parsed = parser.parse_args(["train", flag, *value])
            assert getattr(parsed, name) is not None, flag
        help_text = cli.setting_help(setting)
        if setting.command_line_default != setting.default:
            assert setting.cli_reason and "API's default" in help_text, name
    assert train.epochs == SETTINGS["epochs"].command_line_default
    assert parser.parse_args(["train", "--monitor-size", "0"]).monitor_size == 0  # as the API
    differs = {n for n, s in SETTINGS.items() if s.command_line_default != s.default}
    # each with its reason in --help
    assert differs == {"epochs", "weight_decay", "learning_rate_schedule", "final_learning_rate"}


def _example(setting) -> str:
    """A valid command-line value of a setting that takes one."""
    return str(setting.choices[0]) if setting.choices else "3"


def test_the_kernels_keyword_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="fast_path"):
        rbm = xprbm.RBM(3, 5, seed=0, kernels="generic")
    assert rbm.fast_path == "generic"


def _case_arrays(path: Path) -> tuple[dict, dict]:
    _, contents = checkpoint.read(path)
    return contents.parts, contents.arrays


@pytest.mark.parametrize("case", ["numba-pcd", "generic-cd"])
def test_format_1_checkpoints_of_4fdaa11_resume_as_they_did(case):
    """The fixtures' continuation was computed by commit 4fdaa11 with the NumPy, SciPy (BLAS)
    and Numba of its day. Other versions of those libraries round a few products in the
    last bit (measured: 1e-8 in the weights, one ulp of a pseudo-likelihood), so float
    arrays must agree to float32 rounding; the random streams, the counters and every 0/1
    chain state exactly (a wrong stream or setting would change them all)."""
    if case.startswith("numba") and not kernels.numba_available():
        pytest.skip("Numba is not available")
    X = np.load(FIXTURES / "format1-data.npy")
    trainer = xprbm.load(FIXTURES / f"format1-{case}.npz")
    trainer.run(X, epochs=2, validation=0.2, progress=False)
    _, contents = checkpoint.read(FIXTURES / f"format1-{case}-resumed.npz")
    mine = trainer.checkpoint_contents()
    assert set(mine.arrays) == set(contents.arrays)
    for name, expected in contents.arrays.items():
        if name == "history.seconds":
            continue
        if "chains" in name or not np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_array_equal(mine.arrays[name], expected, err_msg=name)
        else:
            np.testing.assert_allclose(mine.arrays[name], expected, rtol=1e-5, atol=1e-6,
                                       err_msg=name)
    for key in ("rng", "monitor_rng", "epoch", "n_updates"):
        assert mine.parts["trainer"][key] == contents.parts["trainer"][key], key
    _assert_same_but_new_defaults(mine.parts["trainer"]["config"],
                                  contents.parts["trainer"]["config"], SETTINGS_DEFAULTS)
    _assert_same_but_new_defaults(mine.parts["model"], contents.parts["model"],
                                  {"trained": True})


#: what a setting added after format 1 holds when a format-1 file is loaded: its default
SETTINGS_DEFAULTS = {**{name: SETTINGS[name].default for name in CONFIG_FIELDS},
                     **SETTINGS_BEFORE_THEY_EXISTED}


def _assert_same_but_new_defaults(mine: dict, old: dict, new_defaults: dict) -> None:
    """``mine`` has every entry of ``old``, equal, and more only where ``new_defaults`` says
    what a format-1 file implies for them."""
    assert {k: mine[k] for k in old} == old
    for key in set(mine) - set(old):
        assert key in new_defaults and mine[key] == new_defaults[key], key


def test_format_1_model_checkpoint_loads():
    rbm = xprbm.load(FIXTURES / "format1-model.npz")
    parts, arrays = _case_arrays(FIXTURES / "format1-model.npz")
    np.testing.assert_array_equal(rbm.weights, arrays["model.weights"])
    assert rbm.seed == int(parts["model"]["seed"]) and math.isfinite(
        xprbm.exact_log_partition(rbm))
    assert rbm.trained and "trained" not in parts["model"]  # guessed from its biases
