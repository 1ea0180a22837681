"""Data sources for the trainer, as values: a key (from a URL, the menu or the CLI) parses into a frozen
``DatasetSpec``; ``load_dataset`` turns a spec into an ``ImageDataset`` of uint8 tensors in memory.

Import from this package, not its modules:
- base: ImageDataset, DatasetUnavailable, Progress, data_dir
- spec: DatasetSpec, parse_spec, folder_spec, BUILTIN_DATASETS (the static menu), dataset_menu, SIZES
- load: load_dataset, loaded, is_available
- downloader: the one downloader (timeout, md5, progress, no partial files), PREFETCH_COMMAND
- mnist (MNIST family, idx files), digits (synthetic digits), catsdogs/ (folders, zips, CIFAR,
  Oxford pets, drawn pets), cache (memory and disk), weights (ResNet-18 ImageNet weights),
  prefetch (``download(names, ...)`` behind the CLI's download command), uploads (per-session upload
  folders, quotas, access checks, clean-up of ended sessions and orphans)
"""

from explainers.training.data.base import (
    DatasetUnavailable,
    ImageDataset,
    Progress,
    data_dir,
)
from explainers.training.data.cache import clear_cache
from explainers.training.data.digits import synthetic_digits
from explainers.training.data.downloader import PREFETCH_COMMAND, prefetch_command
from explainers.training.data.load import is_available, load_dataset, loaded
from explainers.training.data.mnist import dataset_files, write_idx_dataset
from explainers.training.data.prefetch import DOWNLOADS, DownloadResult, download
from explainers.training.data.spec import (
    BUILTIN_DATASETS,
    SIZES,
    DatasetSpec,
    dataset_menu,
    folder_spec,
    is_catsdogs_key,
    parse_spec,
)
from explainers.training.data.uploads import (
    check_access,
    list_session_uploads,
    remove_orphans,
    remove_session,
    room_left,
    session_quota,
    total_quota,
)
from explainers.training.data.weights import (
    WeightsUnavailable,
    fetch_resnet18_weights,
    resnet18_weights_cached,
    weights_path,
)
from models.pretrained import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "BUILTIN_DATASETS", "DOWNLOADS", "IMAGENET_MEAN", "IMAGENET_STD", "PREFETCH_COMMAND", "SIZES",
    "DatasetSpec", "DatasetUnavailable", "DownloadResult", "ImageDataset", "Progress", "WeightsUnavailable",
    "clear_cache", "data_dir", "dataset_files", "dataset_menu", "download", "fetch_resnet18_weights",
    "folder_spec", "is_available", "is_catsdogs_key", "load_dataset", "loaded", "parse_spec", "prefetch_command",
    "resnet18_weights_cached", "synthetic_digits", "weights_path", "write_idx_dataset",
    "check_access", "list_session_uploads", "remove_orphans", "remove_session", "room_left", "session_quota",
    "total_quota",
]
