"""The command line: ``train`` a model headless, ``download`` data and weights for an offline classroom.

    python -m explainers.training train --dataset KEY --model NAME [...] [--json]
    python -m explainers.training download mnist fashion-mnist cifar-catsdog oxford-pets resnet18 [--data-dir DIR]

``--dataset`` takes every key the trainer page offers, folders of your own pictures included
(``folder:NAME@64`` for the folder NAME under the data folder). Progress goes to stderr; with
``--json`` stdout gets exactly one JSON line with the result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explainers.training.config import DEVICES, OPTIMIZERS, SCHEDULERS, TrainConfig
from explainers.training.data import DOWNLOADS
from explainers.training.run import TrainRun
from explainers.training.runtime import configure_threads

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset

DATA_DIR_HELP = "default: $NEURAL_LENS_DATA or ./data"


def _add_train(sub: Any) -> None:
    d = TrainConfig()
    p = sub.add_parser("train", help="train a model headless and report the test accuracy")
    p.add_argument("--dataset", default=d.dataset, help="e.g. mnist, synthetic-pets@64, folder:NAME@64")
    p.add_argument("--model", default=d.model)
    p.add_argument("--optimizer", default=d.optimizer, choices=list(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--l1", type=float, default=d.l1)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--scheduler", default=d.scheduler, choices=list(SCHEDULERS))
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--augment", action="store_true")
    p.add_argument("--augmentations", default="", help="with --augment: e.g. flip,crop (default: shifts and rotations)")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, choices=list(DEVICES))
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default and most: all cores but one)")
    p.add_argument("--json", action="store_true", help="print one final JSON line on stdout")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explainers.training", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    _add_train(sub)
    dl = sub.add_parser("download", help="pre-fetch datasets into the data folder (and ResNet-18 weights)")
    dl.add_argument("names", nargs="+", choices=DOWNLOADS)
    dl.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    return p


def _config(a: argparse.Namespace) -> TrainConfig:
    names = tuple(n.strip() for n in a.augmentations.split(",") if n.strip())
    return TrainConfig(
        dataset=a.dataset, model=a.model, optimizer=a.optimizer, lr=a.lr, batch_size=a.batch_size,
        epochs=a.epochs, weight_decay=a.weight_decay, l1=a.l1, dropout=a.dropout, scheduler=a.scheduler,
        patience=a.patience, augment=a.augment, augmentations=names, subset=a.subset, seed=a.seed,
        device=a.device, val_fraction=a.val_fraction,
    )


def _progress(name: str) -> Callable[[float, str], None]:
    """A data Progress callback (fraction 0..1, message) that prints one updating line to stderr."""

    def report(fraction: float, message: str) -> None:
        print(f"\r{name}: {fraction:5.0%} {message:<60}", end="", file=sys.stderr, flush=True)

    return report


def _data() -> Any:
    """explainers.training.data's API: parse_spec, load_dataset, download, data_dir, DatasetUnavailable."""
    from explainers.training import data

    return data


def _load(config: TrainConfig, data_dir: str | None, download: bool) -> ImageDataset:
    """The config's dataset via explainers.training.data (DatasetUnavailable when it cannot be had)."""
    data = _data()
    root = Path(data_dir) if data_dir else None
    ds = data.load_dataset(config.dataset, root, download=download, progress=_progress("data"))
    print(file=sys.stderr)
    return ds


def _watch(run: TrainRun) -> None:
    """Progress lines on stderr until the run ends, then one line per epoch and the final message."""
    while not run.join(1.0):
        s = run.snapshot()
        eta = f"{s.eta_seconds:.0f}s" if s.eta_seconds is not None else "?"
        last = s.step_loss[-1] if s.step_loss else float("nan")
        print(f"epoch {s.epoch}/{s.total_epochs} batch {s.batch}/{s.batches_per_epoch} loss {last:.4f} "
              f"{s.images_per_second:.0f} img/s ETA {eta}", file=sys.stderr)
    s = run.snapshot()
    for e in s.epochs:
        print(f"epoch {e['epoch']}: train loss {e['train_loss']:.4f} acc {e['train_acc']:.4f}, "
              f"val loss {e['val_loss']:.4f} acc {e['val_acc']:.4f}, {e['seconds']:.1f}s", file=sys.stderr)
    print(s.message, file=sys.stderr)


def _summary(run: TrainRun, ds: ImageDataset, load_seconds: float) -> dict:
    s, r, config = run.snapshot(), run.result, run.config
    return {
        "status": s.status, "message": s.message, "dataset": config.dataset, "synthetic": ds.synthetic,
        "model": config.model, "test_accuracy": r.test_accuracy if r else None,
        "test_loss": r.test_loss if r else None,
        "train_seconds": r.train_seconds if r else s.elapsed_seconds,
        "images_per_second": r.images_per_second if r else s.images_per_second,
        "epochs": len(s.epochs), "device": s.device, "threads": configure_threads(),
        "load_seconds": load_seconds, "history": s.epochs, "config": config.as_dict(),
    }


def train(a: argparse.Namespace) -> int:
    """``train``: 0 finished, 1 stopped or failed, 2 a bad config, 3 data unavailable."""
    DatasetUnavailable = _data().DatasetUnavailable  # noqa: N806 - an exception class

    configure_threads(a.threads)
    config = _config(a)
    problems = config.problems()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    t_load = time.perf_counter()
    try:
        ds = _load(config, a.data_dir, not a.no_download)
    except DatasetUnavailable as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 3
    run = TrainRun(config, ds).start()
    _watch(run)
    out = _summary(run, ds, time.perf_counter() - t_load)
    if a.json:
        print(json.dumps(out))
    else:
        acc = f"{out['test_accuracy']:.2%}" if out["test_accuracy"] is not None else "n/a"
        print(f"test accuracy {acc} in {out['train_seconds']:.1f}s on {out['device']}")
    return 0 if out["status"] == "finished" else 1


def _named_progress(name: str, fraction: float, message: str) -> None:
    print(f"\r{name}: {fraction:5.0%} {message:<60}", end="", file=sys.stderr, flush=True)


def download(a: argparse.Namespace) -> int:
    """``download``: fetch each name into the data folder (torch's cache for resnet18); 1 when any failed."""
    data = _data()
    root = Path(a.data_dir) if a.data_dir else data.data_dir()
    results = data.download(list(a.names), root, _named_progress)
    for r in results:
        print(f"\n{r.name}: {r.message}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand -> its exit status."""
    a = _parser().parse_args(argv)
    return train(a) if a.command == "train" else download(a)
