"""Cats-vs-dogs pictures in a folder: find them in either common layout, label them, load them.

Layouts: Kaggle's (``train/cat.0.jpg``, the label in the file name) or class folders (``cat/ dog/`` or
``cats/ dogs/``, any case, maybe inside ``train/`` and ``test/`` or ``validation/``). Pictures are decoded
once, centre-cropped to a square and resized, then cached on disk and in memory."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from explainers.training.data.base import ImageDataset, Progress
from explainers.training.data.cache import decoded_dataset
from explainers.training.data.catsdogs.decode import (
    CACHE_VERSION,
    CLASSES,
    decode_files,
    make_dataset,
    restore_dataset,
)
from explainers.training.data.uploads import UPLOADS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")

_CAT_DIRS, _DOG_DIRS = {"cat", "cats"}, {"dog", "dogs"}
_TEST_DIRS = {"test", "val", "valid", "validation"}
_NAME_LABEL = re.compile(r"^(cat|dog)s?[._\- ]", re.IGNORECASE)  # Kaggle: cat.0.jpg, dog.123.jpg
JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.IGNORECASE)


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


def check_enough(files: LabelledFiles, where: str) -> None:
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
        raise ValueError(f"There is no folder {folder.name!r} in the data folder.")
    rel = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.is_symlink()
        and not JUNK.search(p.relative_to(folder).as_posix())
    ]
    files = label_paths(rel)
    check_enough(files, f"The folder {folder.name!r}")  # the name only: visitors never see server paths
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
    """Folders an operator put under the data folder that look like cats-vs-dogs sets (relative paths),
    for a menu; visitors' uploads are not among them (uploads.list_session_uploads lists a session's own)."""
    root = Path(data_root)
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        depth = len(d.relative_to(root).parts)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and n not in ("cache",)
                             and not (depth == 0 and n == UPLOADS))
        if depth >= max_depth:
            dirnames[:] = []
        names = {n.lower() for n in dirnames}
        kaggle = (d / "train").is_dir() and any(_NAME_LABEL.match(f.name) for f in _first(d / "train", 50))
        if depth and ((names & _CAT_DIRS and names & _DOG_DIRS) or kaggle):  # the data folder itself holds uploads/
            found.append(d.relative_to(root).as_posix())
            dirnames[:] = []
    return found


def _first(folder: Path, n: int) -> list[Path]:
    out = []
    for p in folder.iterdir():
        out.append(p)
        if len(out) >= n:
            break
    return out


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
            raise ValueError(f"Fewer than two readable pictures per class in {folder.name!r} ({len(bad)} unreadable).")
        if progress:
            progress(1.0, f"decoded {len(good)} pictures" + (f" ({len(bad)} unreadable skipped)" if bad else ""))
        return make_dataset(name, label, x[tr_t].contiguous(), y[tr_t], x[te_t].contiguous(), y[te_t])

    return decoded_dataset(data_root or folder.parent, key, build,
                           lambda blob: restore_dataset(name, label, blob), progress)
