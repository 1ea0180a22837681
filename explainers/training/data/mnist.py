"""MNIST and Fashion-MNIST from idx files in torchvision's own layout under the data folder:
``<data>/MNIST/raw/train-images-idx3-ubyte`` etc. (the ``.gz`` files are accepted too), so an existing
torchvision download is reused. Files are decoded by ``torchvision.datasets.MNIST`` itself."""

from __future__ import annotations

import gzip
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explainers.training.data.base import (
    DatasetUnavailable,
    ImageDataset,
    Progress,
    channel_stats,
)
from explainers.training.data.downloader import download_file, prefetch_command, reason

IDX_DATASETS: dict[str, tuple[str, str]] = {  # key -> (torchvision class = folder name, label)
    "mnist": ("MNIST", "MNIST"),
    "fashion-mnist": ("FashionMNIST", "Fashion-MNIST"),
}


@dataclass(frozen=True)
class IdxSource:
    """Where one MNIST-family dataset lives: torchvision's folder, mirrors and files."""

    folder: str  # torchvision's class name = folder name under the data dir
    label: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # (file name .gz, md5)


def idx_source(name: str) -> IdxSource:
    """Dataset key ("mnist" or "fashion-mnist") -> its files and mirrors, as torchvision declares them."""
    from torchvision import datasets as tvd

    cls_name, label = IDX_DATASETS[name]
    cls = getattr(tvd, cls_name)
    if cls_name == "MNIST":
        classes = tuple(str(d) for d in range(10))
    else:
        classes = tuple(c.replace("T-shirt/top", "T-shirt") for c in cls.classes)
    return IdxSource(cls_name, label, classes, tuple(cls.mirrors), tuple(tuple(r) for r in cls.resources))


def dataset_files(name: str) -> list[str]:
    """The raw files an MNIST-family dataset needs (``.gz`` or unpacked), e.g. for help text."""
    if name not in IDX_DATASETS:
        return []
    return [res[0] for res in idx_source(name).resources]


def raw_folder(root: Path, src: IdxSource) -> Path:
    return Path(root) / src.folder / "raw"


def idx_available(name: str, root: Path) -> bool:
    """True when every file is present (packed or unpacked): loads without a download."""
    src = idx_source(name)
    raw = raw_folder(root, src)
    return all((raw / Path(f).stem).is_file() or (raw / f).is_file() for f, _ in src.resources)


def _unpacked_present(raw: Path, src: IdxSource) -> bool:
    return all((raw / Path(f).stem).is_file() for f, _ in src.resources)


def _gunzip_missing(raw: Path, src: IdxSource) -> None:
    """Unpack ``x.gz`` into ``x`` where only the archive is present (torchvision reads ``x``)."""
    for f, _ in src.resources:
        target, archive = raw / Path(f).stem, raw / f
        if not target.is_file() and archive.is_file():
            tmp = target.with_suffix(".part")
            try:
                with gzip.open(archive, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                tmp.replace(target)
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                tmp.unlink(missing_ok=True)
                raise DatasetUnavailable(f"{archive} is not a valid gzip file ({exc}). Delete it and try again.") from exc
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise DatasetUnavailable(
                    f"{archive} could not be unpacked next to itself ({exc}). Is the folder {raw} writable?"
                ) from exc


def _unavailable_message(root: Path, src: IdxSource, why: str) -> str:
    files = ", ".join(f for f, _ in src.resources)
    return (
        f"{src.label} is not on this machine and could not be downloaded ({why}). "
        f"Put the files {files} (or the same names without .gz) in the folder "
        f"{raw_folder(root, src).resolve()}, or on a machine with internet run "
        f"`{prefetch_command('mnist', 'fashion-mnist')}` and copy its data folder here (set NEURAL_LENS_DATA "
        "to point at it). Meanwhile the offline 'Synthetic digits' set always works."
    )


def _download(root: Path, src: IdxSource, progress: Progress | None) -> None:
    """Fetch the missing files, trying each mirror in turn; DatasetUnavailable listing every failure."""
    raw = raw_folder(root, src)  # created by the downloader once a server answers: offline makes no folders
    n = len(src.resources)
    for i, (fname, md5) in enumerate(src.resources):
        if (raw / Path(fname).stem).is_file() or (raw / fname).is_file():
            continue
        errors: list[str] = []

        def report(done: int, total: int, i: int = i, fname: str = fname) -> None:
            if progress:
                frac = done / total if total else 0.0
                progress(0.9 * (i + frac) / n, f"downloading {fname} ({done / 1e6:.1f} MB)")

        for mirror in src.mirrors:
            try:
                download_file(mirror + fname, raw / fname, md5=md5, progress=report)
                break
            except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections are OSErrors
                errors.append(f"{mirror}: {reason(exc)}")
        else:
            raise DatasetUnavailable(_unavailable_message(root, src, "; ".join(errors) or "no mirror"))


def download_idx(name: str, root: Path, progress: Progress | None = None) -> None:
    """Make sure an MNIST-family dataset's files are under root (download only what is missing)."""
    src = idx_source(name)
    _gunzip_missing(raw_folder(root, src), src)
    if not _unpacked_present(raw_folder(root, src), src):
        _download(root, src, progress)


def load_idx_dataset(name: str, root: Path, download: bool = True, progress: Progress | None = None) -> ImageDataset:
    """"mnist" or "fashion-mnist" from root -> ImageDataset of uint8 (N, 1, 28, 28), downloading when allowed."""
    import torch
    from torchvision import datasets as tvd

    src = idx_source(name)
    raw = raw_folder(root, src)
    _gunzip_missing(raw, src)
    if not _unpacked_present(raw, src):
        if not download:
            raise DatasetUnavailable(_unavailable_message(root, src, "downloads are switched off"))
        _download(root, src, progress)
        _gunzip_missing(raw, src)
    if progress:
        progress(0.92, f"decoding {src.label}")
    cls = getattr(tvd, src.folder)
    try:
        train = cls(str(root), train=True, download=False)
        test = cls(str(root), train=False, download=False)
    except (RuntimeError, ValueError, OSError, AssertionError) as exc:
        raise DatasetUnavailable(
            f"The {src.label} files in {raw.resolve()} could not be read ({exc}). Delete them and download again."
        ) from exc
    train_x = train.data.to(torch.uint8).unsqueeze(1).contiguous()  # (N, 1, 28, 28)
    test_x = test.data.to(torch.uint8).unsqueeze(1).contiguous()
    mean, std = channel_stats(train_x)
    if progress:
        progress(1.0, "loaded")
    return ImageDataset(
        name=name,
        classes=src.classes,
        train_x=train_x,
        train_y=train.targets.to(torch.int64).contiguous(),
        test_x=test_x,
        test_y=test.targets.to(torch.int64).contiguous(),
        synthetic=False,
        mean=mean,
        std=std,
        label=src.label,
    )


def write_idx_dataset(
    root: Path | str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    folder: str = "MNIST",
    gz: bool = True,
) -> Path:
    """Write uint8 images (N, 28, 28) and labels (N,) as idx files in torchvision's layout -> the raw folder."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": _idx_bytes(train_x, 3),
        "train-labels-idx1-ubyte": _idx_bytes(train_y, 1),
        "t10k-images-idx3-ubyte": _idx_bytes(test_x, 3),
        "t10k-labels-idx1-ubyte": _idx_bytes(test_y, 1),
    }
    for fname, data in files.items():
        if gz:
            with gzip.open(raw / (fname + ".gz"), "wb", compresslevel=1) as f:
                f.write(data)
        else:
            (raw / fname).write_bytes(data)
    return raw


def _idx_bytes(a: np.ndarray, ndim: int) -> bytes:
    """uint8 array -> idx bytes: magic (0, 0, 0x08 = ubyte, ndim), big-endian int32 sizes, then the data."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    if a.ndim != ndim:
        raise ValueError(f"expected {ndim} dimensions, got {a.shape}")
    header = bytes([0, 0, 0x08, ndim]) + np.asarray(a.shape, dtype=">i4").tobytes()
    return header + a.tobytes()
