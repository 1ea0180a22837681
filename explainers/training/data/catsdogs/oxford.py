"""Oxford-IIIT Pet with ``target_types="binary-category"`` (0 = cat, 1 = dog), decoded once to 64-128 px
and cached (decoding 7,000 JPEGs takes minutes; the cache takes a second)."""

from __future__ import annotations

from pathlib import Path

from explainers.training.data.base import DatasetUnavailable, ImageDataset, Progress
from explainers.training.data.cache import decoded_dataset
from explainers.training.data.catsdogs.archives import fetch_archive
from explainers.training.data.catsdogs.decode import (
    CACHE_VERSION,
    decode_files,
    make_dataset,
    restore_dataset,
)


def oxford_available(root: Path) -> bool:
    """True when the images and annotations are already unpacked under root."""
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
    fetch_archive(base, img_url, img_md5, lambda: (base / "images").is_dir(), "Oxford-IIIT Pet images",
                   download, progress, 0.0, 0.6)
    fetch_archive(base, ann_url, ann_md5, lambda: (base / "annotations" / "trainval.txt").is_file(),
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
        return make_dataset(f"oxford-pets@{size}" if size != 64 else "oxford-pets", f"Oxford-IIIT Pet ({size} px)", *tensors)

    key = f"oxford-pets-v{CACHE_VERSION}-{size}"
    name = f"oxford-pets@{size}" if size != 64 else "oxford-pets"
    label = f"Oxford-IIIT Pet ({size} px)"
    return decoded_dataset(root, key, build, lambda blob: restore_dataset(name, label, blob), progress)
