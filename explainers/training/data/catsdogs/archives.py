"""Download and unpack the tar archives of the photo sets (CIFAR-10, Oxford-IIIT Pet) in torchvision's layout."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

from explainers.training.data.base import DatasetUnavailable, Progress
from explainers.training.data.downloader import download_file, prefetch_command, reason

PREFETCH = prefetch_command("cifar-catsdog", "oxford-pets", "resnet18")


def unavailable(what: str, where: Path, files: str, why: str) -> DatasetUnavailable:
    """The error a learner sees when a photo set is missing: what, where to put it, the pre-fetch command."""
    return DatasetUnavailable(
        f"{what} is not on this machine and could not be downloaded ({why}). Put {files} in the "
        f"folder {Path(where).resolve()}, or on a machine with internet run `{PREFETCH}` and copy "
        "its data folder here (set NEURAL_LENS_DATA to point at it). Meanwhile 'Drawn cats & dogs "
        "(offline)' and your own pictures always work."
    )


def fetch_archive(root: Path, url: str, md5: str, folder_ok: Callable[[], bool], what: str, download: bool,
                  progress: Progress | None, start: float, span: float) -> None:
    """Make sure an archive's contents are unpacked under root (download + extract when needed);
    progress moves from ``start`` to ``start + span``."""
    if folder_ok():
        return
    archive = Path(root) / url.rsplit("/", 1)[1]
    if not archive.is_file():
        if not download:
            raise unavailable(what, root, archive.name, "downloads are switched off")

        def report(done: int, total: int) -> None:
            if progress:
                frac = done / total if total else 0.0
                progress(start + span * 0.9 * frac, f"downloading {what}: {done / 2**20:.0f} MB"
                         + (f" of {total / 2**20:.0f} MB" if total else ""))

        try:
            download_file(url, archive, md5=md5, progress=report)
        except (OSError, ValueError) as exc:
            raise unavailable(what, root, archive.name, reason(exc)) from exc
    if progress:
        progress(start + span * 0.92, f"unpacking {archive.name}")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(archive.parent, filter="data")  # the "data" filter refuses links and escapes
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetUnavailable(f"{archive} could not be unpacked ({exc}). Delete it and try again.") from exc
