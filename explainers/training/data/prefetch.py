"""Pre-fetch data and weights for a classroom without internet: the work behind
``python -m explainers.training download NAME...`` (the CLI itself lives in explainers/training/cli.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from explainers.training.data.base import DatasetUnavailable, root_or_default
from explainers.training.data.spec import parse_spec

DOWNLOADS = ("mnist", "fashion-mnist", "cifar-catsdog", "oxford-pets", "resnet18")  # what `download` offers

NamedProgress = Callable[[str, float, str], None]  # (name, fraction 0..1, message)


@dataclass(frozen=True)
class DownloadResult:
    """How one name went: ok, and a one-line message (where it is, or why it failed and what to do)."""

    name: str
    ok: bool
    message: str


def check_download_names(names: Sequence[str]) -> list[str]:
    """The names, or ValueError naming the first one that is neither in DOWNLOADS nor a dataset key."""
    for name in names:
        if name != "resnet18":
            try:
                parse_spec(name)
            except ValueError:
                raise ValueError(f"Cannot download {name!r}; choose from {', '.join(DOWNLOADS)} "
                                 "(or any dataset key).") from None
    return list(names)


def download(names: Sequence[str], data_dir: Path | str | None = None,
             progress: NamedProgress | None = None) -> list[DownloadResult]:
    """Fetch each name into the data folder (datasets, decoded and cached) or torch's cache (resnet18).

    Every name is tried; a failure (offline, damaged) is a result with ok=False, not an exception.
    ValueError before anything is fetched when a name is unknown."""
    from explainers.training.data.load import load_dataset
    from explainers.training.data.weights import (
        WeightsUnavailable,
        fetch_resnet18_weights,
    )

    root = root_or_default(data_dir)
    results = []
    for name in check_download_names(names):

        def report(fraction: float, message: str, name: str = name) -> None:
            if progress:
                progress(name, fraction, message)

        try:
            if name == "resnet18":
                path = fetch_resnet18_weights(report)
                results.append(DownloadResult(name, True, f"ImageNet weights in {path}"))
            else:
                ds = load_dataset(name, root, download=True, progress=report)
                results.append(DownloadResult(
                    name, True, f"{len(ds.train_y)} train / {len(ds.test_y)} test images in {root.resolve()}"))
        except (DatasetUnavailable, WeightsUnavailable) as exc:
            results.append(DownloadResult(name, False, str(exc)))
    return results
