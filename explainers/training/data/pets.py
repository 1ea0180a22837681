"""Cats vs dogs as in-memory uint8 tensors: your own folder or zip, CIFAR-10's cats and dogs, Oxford-IIIT Pet.

Sources (all give classes ("cat", "dog") and uint8 images (N, 3, S, S)):
- a folder under the data folder, in either common layout: Kaggle's (``train/cat.0.jpg``, the
  label in the file name) or class folders (``cat/ dog/`` or ``cats/ dogs/``, any case, maybe
  inside ``train/`` and ``test/`` or ``validation/``); uploaded zips are checked and unpacked
  into ``<data>/uploads/`` by ``import_zip``;
- the CIFAR-10 cat/dog subset (32 px, 10,000 train / 2,000 test) and Oxford-IIIT Pet with
  ``target_types="binary-category"``, downloaded through torchvision's layout with progress;
- drawn cats and dogs (offline, generated in code) for classrooms without pictures.

Images are decoded once (every file through ``explainers.images.load_image``), centre-cropped
to a square and resized to 64, 96 or 128 px, cached on disk under ``<data>/cache/catsdogs/``
and in memory; epochs never decode JPEGs again. Mean/std are ImageNet's, so ResNet-18 gets
the inputs its weights expect (models/catsdogs.py).

Dataset keys for ``explainers.training.data.datasets.load_dataset``: ``"synthetic-pets"``, ``"cifar-catsdog"``,
``"oxford-pets"`` (64 px), ``"oxford-pets@96"``, ``"folder:<path under data>@<size>"``; build
them with ``dataset_key(...)``, which also registers them. ``ensure_registered(key)`` registers
a key read back from a URL.

CLI: ``python -m explainers.training.data.pets download cifar-catsdog oxford-pets resnet18 [--data-dir DIR]``.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from explainers.images import ImageError, load_image
from explainers.training.data.datasets import (
    DATASETS,
    DatasetUnavailable,
    ImageDataset,
    register_dataset,
)

if TYPE_CHECKING:
    import numpy as np
    import torch

Progress = Callable[[float, str], None]

CLASSES = ("cat", "dog")
SIZES = (64, 96, 128)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # same values as models.catsdogs (kept torch-free here)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREFETCH_COMMAND = "python -m explainers.training.data.pets download cifar-catsdog oxford-pets resnet18"
DOWNLOAD_TIMEOUT_S = 15.0
CACHE_VERSION = 1

# Zip upload limits: Streamlit already refuses uploads over server.maxUploadSize (10 MB here).
MAX_ZIP_BYTES = 100 * 1024 * 1024  # the zip itself
MAX_ZIP_FILES = 5000  # entries that are files
MAX_ZIP_UNPACKED = 400 * 1024 * 1024  # sum of the declared uncompressed sizes
MAX_FILE_BYTES = 25 * 1024 * 1024  # one image (load_image's own limit)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")

_CAT_DIRS, _DOG_DIRS = {"cat", "cats"}, {"dog", "dogs"}
_TEST_DIRS = {"test", "val", "valid", "validation"}
_NAME_LABEL = re.compile(r"^(cat|dog)s?[._\- ]", re.IGNORECASE)  # Kaggle: cat.0.jpg, dog.123.jpg
_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.IGNORECASE)


class ZipRefused(ValueError):
    """An uploaded zip that was not accepted; the message says why, for the learner."""


@dataclass(frozen=True)
class LabelledFiles:
    """Image files found in a folder (or zip) with their labels (0 = cat, 1 = dog)."""

    layout: str  # "class folders" or "Kaggle file names"
    train: tuple[tuple[str, int], ...]  # (relative POSIX path, label)
    test: tuple[tuple[str, int], ...]  # empty when the folder has no test/validation split
    unlabelled: int  # images neither in a cat/dog folder nor named cat.N / dog.N

    def counts(self) -> dict[str, int]:
        """{"cat": n, "dog": n} over train and test."""
        labels = [lab for _, lab in self.train + self.test]
        return {c: labels.count(i) for i, c in enumerate(CLASSES)}


@dataclass(frozen=True)
class ZipImport:
    """A checked, unpacked upload."""

    folder: Path  # absolute path of the unpacked folder
    relative: str  # the same, relative to the data folder (for dataset_key)
    files: LabelledFiles
    ignored: int  # macOS / Windows metadata entries skipped


# ----------------------------------------------------------------------------- layouts


def label_paths(paths: Iterable[str]) -> LabelledFiles:
    """Relative POSIX paths of image files -> labels from class folders or Kaggle-style names."""
    train, test, unlabelled = [], [], 0
    from_dirs = from_names = 0
    for p in sorted(paths):
        parts = [s.lower() for s in PurePosixPath(p).parts]
        dirs, name = parts[:-1], parts[-1]
        if any(d == "test1" for d in dirs):  # Kaggle's unlabelled test set
            unlabelled += 1
            continue
        label = None
        for d in reversed(dirs):
            if d in _CAT_DIRS or d in _DOG_DIRS:
                label = 0 if d in _CAT_DIRS else 1
                from_dirs += 1
                break
        if label is None:
            m = _NAME_LABEL.match(name)
            if m:
                label = CLASSES.index(m.group(1).lower())
                from_names += 1
        if label is None:
            unlabelled += 1
            continue
        (test if any(d in _TEST_DIRS for d in dirs) else train).append((p, label))
    layout = "class folders" if from_dirs >= from_names else "Kaggle file names"
    # A test split only counts when it has both classes; otherwise everything is training data.
    if test and len({lab for _, lab in test}) < 2:
        train, test = train + test, []
    return LabelledFiles(layout, tuple(train), tuple(test), unlabelled)


def _check_enough(files: LabelledFiles, where: str) -> None:
    counts = files.counts()
    if min(counts.values()) < 2:
        raise ValueError(
            f"{where} needs at least 2 pictures of each class, found {counts['cat']} cats and "
            f"{counts['dog']} dogs. Use class folders (cat/ and dog/, or cats/ and dogs/) or "
            "Kaggle-style names (train/cat.0.jpg, train/dog.0.jpg)."
        )


def scan_folder(folder: Path) -> LabelledFiles:
    """Find the labelled images under a folder (either layout, any depth); ValueError when unusable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"There is no folder {folder}.")
    rel = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.is_symlink()
        and not _JUNK.search(p.relative_to(folder).as_posix())
    ]
    files = label_paths(rel)
    _check_enough(files, f"The folder {folder}")
    return files


def resolve_under(data_root: Path, relative: str) -> Path:
    """A folder named relative to the data folder -> absolute path; ValueError if it escapes it."""
    root = Path(data_root).resolve()
    rel = PurePosixPath(relative.strip().replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError("Give a folder inside the data folder, without '..' or a leading '/'.")
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise ValueError("That folder is outside the data folder.")
    return path


def list_folders(data_root: Path, max_depth: int = 3) -> list[str]:
    """Folders under the data folder that look like cats-vs-dogs sets (relative paths), for a menu."""
    root = Path(data_root)
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        depth = len(d.relative_to(root).parts)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and n not in ("cache",))
        if depth >= max_depth:
            dirnames[:] = []
        names = {n.lower() for n in dirnames}
        kaggle = (d / "train").is_dir() and any(_NAME_LABEL.match(f.name) for f in _first(d / "train", 50))
        if (names & _CAT_DIRS and names & _DOG_DIRS) or kaggle:
            found.append(d.relative_to(root).as_posix() or ".")
            dirnames[:] = []
    return found


def _first(folder: Path, n: int) -> list[Path]:
    out = []
    for p in folder.iterdir():
        out.append(p)
        if len(out) >= n:
            break
    return out


# ----------------------------------------------------------------------------- zip uploads


def _refuse(msg: str) -> ZipRefused:
    return ZipRefused(f"{msg} Nothing was saved.")


def check_zip_entries(zf: zipfile.ZipFile, *, max_files: int = MAX_ZIP_FILES,
                      max_unpacked: int = MAX_ZIP_UNPACKED) -> tuple[list[zipfile.ZipInfo], int]:
    """Validate names, types and sizes of every entry (no decompression); -> image entries, ignored count."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > max_files:
        raise _refuse(f"The zip holds {len(infos)} files; the limit is {max_files}.")
    keep, ignored, total = [], 0, 0
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name:
            raise _refuse(f"The zip contains an absolute or Windows-style path ({name!r}).")
        if ".." in PurePosixPath(name).parts:
            raise _refuse(f"The zip contains a path that climbs out of its folder ({name!r}).")
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip tool stored no Unix file type
        if kind and kind != stat.S_IFREG:
            raise _refuse(f"The zip contains a link or special file ({name!r}); only pictures are allowed.")
        if info.flag_bits & 0x1:
            raise _refuse("The zip is password-protected.")
        if _JUNK.search(name):
            ignored += 1
            continue
        if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            raise _refuse(f"The zip contains {name!r}, which is not a picture; only images are allowed.")
        if info.file_size > MAX_FILE_BYTES:
            raise _refuse(f"{name!r} is larger than {MAX_FILE_BYTES // 2**20} MB.")
        total += info.file_size
        if total > max_unpacked:
            raise _refuse(f"The zip unpacks to more than {max_unpacked // 2**20} MB.")
        keep.append(info)
    if not keep:
        raise _refuse("The zip contains no pictures.")
    return keep, ignored


def import_zip(
    data: bytes,
    data_root: Path,
    *,
    max_bytes: int = MAX_ZIP_BYTES,
    max_files: int = MAX_ZIP_FILES,
    max_unpacked: int = MAX_ZIP_UNPACKED,
    progress: Progress | None = None,
) -> ZipImport:
    """Check an uploaded zip and unpack it to <data>/uploads/<hash>/; ZipRefused leaves nothing on disk."""
    if len(data) > max_bytes:
        raise _refuse(f"The zip is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _refuse("This file is not a zip archive we can read.") from None
    with zf:
        infos, ignored = check_zip_entries(zf, max_files=max_files, max_unpacked=max_unpacked)
        files = label_paths(i.filename for i in infos)
        try:
            _check_enough(files, "The zip")
        except ValueError as exc:
            raise _refuse(str(exc)) from None
        uploads = Path(data_root) / "uploads"
        digest = hashlib.sha256(data).hexdigest()[:16]
        final = uploads / digest
        if final.is_dir():  # the same zip was checked and unpacked before
            return ZipImport(final.resolve(), f"uploads/{digest}", scan_folder(final), ignored)
        uploads.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=uploads))
        try:
            for k, info in enumerate(infos):
                try:
                    raw = zf.read(info)  # bounded by the declared size; CRC checked
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                    raise _refuse(f"{info.filename!r} could not be unpacked ({exc}).") from None
                try:
                    load_image(raw, max_side=64)  # Pillow validates it; the result is not kept
                except ImageError as exc:
                    raise _refuse(f"{info.filename!r}: {exc}") from None
                dest = tmp.joinpath(*PurePosixPath(info.filename).parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(raw)
                if progress and (k % 25 == 0 or k == len(infos) - 1):
                    progress((k + 1) / len(infos), f"checked {k + 1} of {len(infos)} pictures")
            try:
                os.replace(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another session unpacked the same zip first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return ZipImport(final.resolve(), f"uploads/{digest}", scan_folder(final), ignored)


# ----------------------------------------------------------------------------- decoding


def decode_to_square(data: bytes, size: int) -> np.ndarray:
    """Image file bytes -> (size, size, 3) uint8: load_image, centre-crop to a square, resize."""
    return square_uint8(load_image(data, max_side=4 * size), size)  # JPEGs shrink on load


def square_uint8(img: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) float image in [0, 1] -> (size, size, 3) uint8: centre-crop to a square, then resize."""
    import numpy as np
    from PIL import Image

    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = (img[top:top + side, left:left + side] * 255.0 + 0.5).astype(np.uint8)
    if side != size:
        square = np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0))
    return square


def decode_files(
    paths: list[Path], size: int, progress: Progress | None = None, *, start: float = 0.0, span: float = 1.0,
    what: str = "pictures",
) -> tuple[torch.Tensor, list[int]]:
    """Decode image files once -> uint8 (N_ok, 3, size, size) and the indices of files that failed."""
    import numpy as np
    import torch

    out = np.empty((len(paths), size, size, 3), np.uint8)
    bad: list[int] = []
    ok = 0
    for i, p in enumerate(paths):
        try:
            out[ok] = decode_to_square(Path(p).read_bytes(), size)
            ok += 1
        except (ImageError, OSError):
            bad.append(i)  # e.g. the few broken JPEGs in Microsoft's PetImages
        if progress and (i % 50 == 0 or i == len(paths) - 1):
            progress(start + span * (i + 1) / max(len(paths), 1), f"decoding {what}: {i + 1} of {len(paths)}")
    return torch.from_numpy(out[:ok]).permute(0, 3, 1, 2).contiguous(), bad


def _split_indices(labels: list[int], test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Stratified random split -> (train indices, test indices)."""
    import random

    rng = random.Random(seed)
    train, test = [], []
    for c in range(len(CLASSES)):
        idx = [i for i, lab in enumerate(labels) if lab == c]
        rng.shuffle(idx)
        k = max(1, round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        test += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(test)


def _limit(items: list[tuple[str, int]], per_class: int | None, seed: int) -> list[tuple[str, int]]:
    if per_class is None:
        return items
    import random

    rng = random.Random(seed)
    out = []
    for c in range(len(CLASSES)):
        group = [it for it in items if it[1] == c]
        rng.shuffle(group)
        out += group[:per_class]
    return sorted(out)


def _dataset(name: str, label: str, train_x, train_y, test_x, test_y, synthetic: bool = False) -> ImageDataset:
    return ImageDataset(
        name=name, classes=CLASSES, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y,
        synthetic=synthetic, mean=IMAGENET_MEAN, std=IMAGENET_STD, label=label,
    )


# ----------------------------------------------------------------------------- disk cache

_MEMORY: dict[str, ImageDataset] = {}
_MEMORY_LOCK = threading.Lock()


def cache_dir(data_root: Path) -> Path:
    return Path(data_root) / "cache" / "catsdogs"


def _cached(data_root: Path, key: str, name: str, label: str, build: Callable[[], ImageDataset],
            progress: Progress | None) -> ImageDataset:
    """Memory, then <data>/cache/catsdogs/<key>.pt, then build() (and store it in both)."""
    import torch

    memory_key = f"{Path(data_root).resolve()}|{key}"
    with _MEMORY_LOCK:
        if memory_key in _MEMORY:
            return _MEMORY[memory_key]
    path = cache_dir(data_root) / f"{key}.pt"
    ds = None
    if path.is_file():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            ds = _dataset(name, label, blob["train_x"], blob["train_y"], blob["test_x"], blob["test_y"],
                          bool(blob.get("synthetic", False)))
            if progress:
                progress(1.0, "loaded decoded pictures from the cache")
        except (OSError, RuntimeError, KeyError, EOFError, ValueError):
            ds = None  # a damaged cache file is rebuilt
    if ds is None:
        ds = build()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            os.close(fd)
            torch.save({"train_x": ds.train_x, "train_y": ds.train_y, "test_x": ds.test_x, "test_y": ds.test_y,
                        "synthetic": ds.synthetic}, tmp)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only data folder only costs a re-decode next time
    with _MEMORY_LOCK:
        return _MEMORY.setdefault(memory_key, ds)


def clear_memory_cache() -> None:
    """Forget decoded datasets held in this process (tests)."""
    with _MEMORY_LOCK:
        _MEMORY.clear()


# ----------------------------------------------------------------------------- folder datasets


def load_folder(
    folder: Path,
    size: int = 64,
    *,
    data_root: Path | None = None,
    progress: Progress | None = None,
    test_fraction: float = 0.2,
    per_class: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> ImageDataset:
    """A cats/dogs folder (either layout) -> ImageDataset of uint8 (N, 3, size, size), decoded once and cached."""
    import torch

    if size < 8 or size > 512:
        raise ValueError(f"image size {size} must be between 8 and 512 pixels")
    folder = Path(folder).resolve()
    files = scan_folder(folder)
    train_items = _limit(list(files.train), per_class, seed)
    test_items = _limit(list(files.test), per_class, seed + 1) if files.test else []
    # The cache key changes when any file is added, removed or edited.
    h = hashlib.sha256(f"v{CACHE_VERSION}|{folder}|{size}|{test_fraction}|{per_class}|{seed}".encode())
    for rel, lab in train_items + test_items:
        st = (folder / rel).stat()
        h.update(f"{rel}|{lab}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    key = f"folder-{h.hexdigest()[:20]}-{size}"
    name = name or f"folder:{folder.name}@{size}"
    label = f"Your pictures: {folder.name} ({size} px)"

    def build() -> ImageDataset:
        items = train_items + test_items
        x, bad_list = decode_files([folder / rel for rel, _ in items], size, progress, span=0.98)
        bad = set(bad_list)
        good = [it for i, it in enumerate(items) if i not in bad]
        y = torch.tensor([lab for _, lab in good], dtype=torch.int64)
        n_train = sum(1 for i in range(len(train_items)) if i not in bad)
        if test_items and len(set(y[n_train:].tolist())) == 2:
            tr, te = list(range(n_train)), list(range(n_train, len(good)))
        else:
            tr, te = _split_indices(y.tolist(), test_fraction, seed)
        tr_t, te_t = torch.tensor(tr, dtype=torch.int64), torch.tensor(te, dtype=torch.int64)
        if len(set(y[tr_t].tolist())) < 2:
            raise ValueError(f"Fewer than two readable pictures per class in {folder} ({len(bad)} unreadable).")
        if progress:
            progress(1.0, f"decoded {len(good)} pictures" + (f" ({len(bad)} unreadable skipped)" if bad else ""))
        return _dataset(name, label, x[tr_t].contiguous(), y[tr_t], x[te_t].contiguous(), y[te_t])

    return _cached(data_root or folder.parent, key, name, label, build, progress)


# ----------------------------------------------------------------------------- drawn cats and dogs


def synthetic_pets(n_train: int = 1000, n_test: int = 300, size: int = 64, seed: int = 0) -> ImageDataset:
    """Cartoon cats (pointed ears, whiskers) and dogs (floppy ears, snout) drawn in code -> ImageDataset."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    def draw(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        hi = size * 2  # drawn at twice the size, then shrunk: smooth edges
        xs = np.empty((n, size, size, 3), np.uint8)
        ys = np.arange(n) % 2
        rng.shuffle(ys)
        for i in range(n):
            bg = tuple(int(v) for v in rng.integers(120, 256, 3))
            im = Image.new("RGB", (hi, hi), bg)
            d = ImageDraw.Draw(im)
            for _ in range(3):  # background clutter
                x0, y0 = rng.integers(0, hi, 2)
                r = int(rng.integers(hi // 16, hi // 6))
                d.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=tuple(int(v) for v in rng.integers(90, 256, 3)))
            fur = tuple(int(v) for v in rng.integers(20, 200, 3))
            r = hi * rng.uniform(0.2, 0.3)
            cx, cy = hi / 2 + rng.uniform(-0.12, 0.12) * hi, hi / 2 + rng.uniform(-0.05, 0.15) * hi
            if ys[i] == 0:  # cat: two pointed triangular ears
                for s in (-1, 1):
                    d.polygon([(cx + s * 0.9 * r, cy - 0.3 * r), (cx + s * 0.75 * r, cy - 1.45 * r),
                               (cx + s * 0.15 * r, cy - 0.85 * r)], fill=fur)
            else:  # dog: long floppy ears hanging down the sides
                for s in (-1, 1):
                    d.ellipse((cx + s * 0.95 * r - 0.3 * r, cy - 0.7 * r, cx + s * 0.95 * r + 0.3 * r, cy + 0.8 * r),
                              fill=tuple(max(0, v - 40) for v in fur))
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fur)
            eye = (250, 250, 250) if sum(fur) < 300 else (20, 20, 20)
            for s in (-1, 1):
                d.ellipse((cx + s * 0.4 * r - 0.12 * r, cy - 0.3 * r, cx + s * 0.4 * r + 0.12 * r, cy - 0.06 * r), fill=eye)
            if ys[i] == 0:  # whiskers
                for s in (-1, 1):
                    for k in (-1, 0, 1):
                        d.line((cx + s * 0.25 * r, cy + 0.25 * r, cx + s * 1.15 * r, cy + (0.15 + 0.18 * k) * r),
                               fill=eye, width=max(1, hi // 64))
            else:  # snout and a big nose
                d.ellipse((cx - 0.35 * r, cy + 0.05 * r, cx + 0.35 * r, cy + 0.6 * r), fill=tuple(min(255, v + 50) for v in fur))
                d.ellipse((cx - 0.15 * r, cy + 0.08 * r, cx + 0.15 * r, cy + 0.3 * r), fill=(10, 10, 10))
            if rng.random() < 0.5:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            xs[i] = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))
        return torch.from_numpy(xs).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(ys.astype(np.int64))

    train_x, train_y = draw(n_train, np.random.default_rng(seed))
    test_x, test_y = draw(n_test, np.random.default_rng(seed + 1_000_003))
    return _dataset(f"synthetic-pets@{size}" if size != 64 else "synthetic-pets", f"Drawn cats & dogs (offline, {size} px)",
                    train_x, train_y, test_x, test_y, synthetic=True)


# ----------------------------------------------------------------------------- downloads


def _download(url: str, dest: Path, md5: str | None, progress: Progress | None, start: float, span: float,
              what: str) -> None:
    """Stream url to dest (timeout, md5 check, progress); OSError/ValueError on failure; no partial file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    digest = hashlib.md5()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "neural-lens"})
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    frac = done / total if total else 0.0
                    progress(start + span * frac, f"downloading {what}: {done / 2**20:.0f} MB"
                             + (f" of {total / 2**20:.0f} MB" if total else ""))
        if md5 and digest.hexdigest() != md5:
            raise ValueError(f"the download of {url} is damaged (checksum mismatch)")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def _unavailable(what: str, where: Path, files: str, reason: str) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"{what} is not on this machine and could not be downloaded ({reason}). Put {files} in the "
        f"folder {where.resolve()}, or on a machine with internet run `{PREFETCH_COMMAND}` and copy "
        "its data folder here (set NEURAL_LENS_DATA to point at it). Meanwhile 'Drawn cats & dogs "
        "(offline)' and your own pictures always work."
    )


def _fetch_archive(root: Path, url: str, md5: str, folder_ok: Callable[[], bool], what: str, download: bool,
                   progress: Progress | None, start: float, span: float) -> None:
    """Make sure an archive's contents are unpacked under root (download + extract when needed)."""
    if folder_ok():
        return
    archive = root / url.rsplit("/", 1)[1]
    if not archive.is_file():
        if not download:
            raise _unavailable(what, root, archive.name, "downloads are switched off")
        try:
            _download(url, archive, md5, progress, start, span * 0.9, what)
        except (OSError, ValueError) as exc:
            raise _unavailable(what, root, archive.name, str(getattr(exc, "reason", exc))) from exc
    if progress:
        progress(start + span * 0.92, f"unpacking {archive.name}")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(archive.parent, filter="data")  # the "data" filter refuses links and escapes
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetUnavailable(f"{archive} could not be unpacked ({exc}). Delete it and try again.") from exc


def cifar_available(root: Path) -> bool:
    """True when the CIFAR-10 batches are already unpacked under root."""
    return (Path(root) / "cifar-10-batches-py" / "data_batch_1").is_file()


def load_cifar_catsdog(root: Path, download: bool = True, progress: Progress | None = None) -> ImageDataset:
    """The cat (3) and dog (5) classes of CIFAR-10 at 32 px: 10,000 train / 2,000 test."""
    import numpy as np
    import torch
    from torchvision.datasets import CIFAR10

    root = Path(root)
    _fetch_archive(root, CIFAR10.url, CIFAR10.tgz_md5, lambda: cifar_available(root), "CIFAR-10", download,
                   progress, 0.0, 0.9)
    try:
        parts = [CIFAR10(str(root), train=t, download=False) for t in (True, False)]
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        raise DatasetUnavailable(f"The CIFAR-10 files under {root.resolve()} could not be read ({exc}).") from exc
    out = []
    for ds in parts:
        targets = np.asarray(ds.targets)
        keep = np.flatnonzero((targets == 3) | (targets == 5))
        x = torch.from_numpy(ds.data[keep]).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32) uint8
        y = torch.from_numpy((targets[keep] == 5).astype(np.int64))  # cat -> 0, dog -> 1
        out += [x, y]
    if progress:
        progress(1.0, "loaded")
    return _dataset("cifar-catsdog", "CIFAR-10 cats & dogs (32 px)", *out)


def oxford_available(root: Path) -> bool:
    base = Path(root) / "oxford-iiit-pet"
    return (base / "images").is_dir() and (base / "annotations" / "trainval.txt").is_file()


def load_oxford_pets(root: Path, download: bool = True, progress: Progress | None = None, *,
                     size: int = 64) -> ImageDataset:
    """Oxford-IIIT Pet with target_types="binary-category" (0 = cat, 1 = dog), decoded once to size px."""
    import torch
    from torchvision.datasets import OxfordIIITPet

    root = Path(root)
    (img_url, img_md5), (ann_url, ann_md5) = OxfordIIITPet._RESOURCES
    base = root / "oxford-iiit-pet"
    _fetch_archive(base, img_url, img_md5, lambda: (base / "images").is_dir(), "Oxford-IIIT Pet images",
                   download, progress, 0.0, 0.6)
    _fetch_archive(base, ann_url, ann_md5, lambda: (base / "annotations" / "trainval.txt").is_file(),
                   "Oxford-IIIT Pet annotations", download, progress, 0.6, 0.05)

    def build() -> ImageDataset:
        tensors = []
        for k, split in enumerate(("trainval", "test")):
            try:
                ds = OxfordIIITPet(str(root), split=split, target_types="binary-category", download=False)
            except (RuntimeError, OSError, ValueError) as exc:
                raise DatasetUnavailable(f"The Oxford-IIIT Pet files under {base.resolve()} could not be read ({exc}).") from exc
            x, bad = decode_files(list(ds._images), size, progress, start=0.65 + 0.175 * k, span=0.175,
                                  what=f"Oxford pets ({split})")
            skip = set(bad)
            labels = [lab for i, lab in enumerate(ds._bin_labels) if i not in skip]
            tensors += [x, torch.tensor(labels, dtype=torch.int64)]
        return _dataset(f"oxford-pets@{size}" if size != 64 else "oxford-pets", f"Oxford-IIIT Pet ({size} px)", *tensors)

    key = f"oxford-pets-v{CACHE_VERSION}-{size}"
    name = f"oxford-pets@{size}" if size != 64 else "oxford-pets"
    return _cached(root, key, name, f"Oxford-IIIT Pet ({size} px)", build, progress)


# ----------------------------------------------------------------------------- registry


def dataset_key(source: str, size: int = 64, folder: str | None = None) -> str:
    """("synthetic" | "cifar" | "oxford" | "folder", size, folder under data) -> a registered dataset key."""
    if size not in SIZES and source != "cifar":
        raise ValueError(f"image size must be one of {SIZES}")
    if source == "cifar":
        key = "cifar-catsdog"
    elif source == "synthetic":
        key = "synthetic-pets" if size == 64 else f"synthetic-pets@{size}"
    elif source == "oxford":
        key = "oxford-pets" if size == 64 else f"oxford-pets@{size}"
    elif source == "folder":
        if not folder:
            raise ValueError("choose a folder")
        rel = PurePosixPath(folder.strip().replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError("Give a folder inside the data folder, without '..' or a leading '/'.")
        key = f"folder:{rel.as_posix()}@{size}"
    else:
        raise ValueError(f"unknown cats-vs-dogs source {source!r}")
    ensure_registered(key)
    return key


_KEY = re.compile(r"^(synthetic-pets|oxford-pets|folder:(?P<folder>[^@]+))(@(?P<size>\d+))?$")


def parse_key(key: str) -> tuple[str, int, str | None]:
    """A cats-vs-dogs dataset key -> (source, size, folder): the inverse of dataset_key."""
    if key == "cifar-catsdog":
        return "cifar", 32, None
    m = _KEY.match(key)
    if not m:
        raise ValueError(f"{key!r} is not a cats-vs-dogs dataset")
    size = int(m.group("size") or 64)
    if m.group("folder"):
        return "folder", size, m.group("folder")
    return ("synthetic" if key.startswith("synthetic-pets") else "oxford"), size, None


def is_catsdogs(key: str) -> bool:
    """True for the dataset keys this module provides."""
    return key == "cifar-catsdog" or bool(_KEY.match(key))


def ensure_registered(key: str) -> bool:
    """Register a cats-vs-dogs key (e.g. read from a URL) if it is well formed; -> whether it is known now."""
    if key in DATASETS:
        return True
    m = _KEY.match(key)
    if not m:
        return False
    size = int(m.group("size") or 64)
    if size not in SIZES:
        return False
    if m.group("folder"):
        rel = m.group("folder")

        def loader(root: Path, download: bool, progress: Progress | None) -> ImageDataset:
            try:
                path = resolve_under(root, rel)
                return load_folder(path, size, data_root=root, progress=progress, name=key)
            except ValueError as exc:
                raise DatasetUnavailable(str(exc)) from exc

        register_dataset(key, f"Your pictures: {rel} ({size} px)", loader)
    elif key.startswith("synthetic-pets"):
        register_dataset(key, f"Drawn cats & dogs (offline, {size} px)",
                         lambda root, dl, pr: _synthetic_loader(size, pr))
    else:
        register_dataset(key, f"Oxford-IIIT Pet ({size} px)",
                         lambda root, dl, pr: load_oxford_pets(root, dl, pr, size=size), oxford_available)
    return True


_SYNTH: dict[int, ImageDataset] = {}
_SYNTH_LOCK = threading.Lock()


def _synthetic_loader(size: int, progress: Progress | None) -> ImageDataset:
    """The default drawn set per size, drawn once per process (it does not depend on the data folder)."""
    if progress:
        progress(0.1, "drawing cats and dogs")
    with _SYNTH_LOCK:
        ds = _SYNTH.get(size) or _SYNTH.setdefault(size, synthetic_pets(size=size))
    if progress:
        progress(1.0, "loaded")
    return ds


register_dataset("synthetic-pets", "Drawn cats & dogs (offline)", lambda root, dl, pr: _synthetic_loader(64, pr))
register_dataset("cifar-catsdog", "CIFAR-10 cats & dogs (32 px)", load_cifar_catsdog, cifar_available)
register_dataset("oxford-pets", "Oxford-IIIT Pet (64 px)", lambda root, dl, pr: load_oxford_pets(root, dl, pr, size=64),
                 oxford_available)


def is_downloaded(key: str, data_root: Path) -> bool:
    """True when a key needs no download (folders and drawn pictures never do)."""
    if key == "cifar-catsdog":
        return cifar_available(data_root)
    if key.startswith("oxford-pets"):
        return oxford_available(data_root)
    return True


# ----------------------------------------------------------------------------- CLI


def _fetch_resnet18(progress: Progress) -> str:
    from models.catsdogs import fetch_resnet18_weights

    return str(fetch_resnet18_weights(progress))


def main(argv: list[str] | None = None) -> int:
    """``download NAME...``: pre-fetch cats-vs-dogs data (and the ResNet-18 weights) for an offline classroom."""
    from explainers.training.data.datasets import download_cli

    return download_cli(argv, prog="python -m explainers.training.data.pets", description=main.__doc__,
                        names=["cifar-catsdog", "oxford-pets"], extras={"resnet18": _fetch_resnet18},
                        errors=(RuntimeError,))  # DatasetUnavailable is one; so are failed weight downloads


if __name__ == "__main__":
    sys.exit(main())
