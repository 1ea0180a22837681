"""Cats vs dogs, every source giving classes ("cat", "dog") and uint8 images (N, 3, S, S) with ImageNet's
mean/std: your own folder (folders) or zip (zips), CIFAR-10's cats and dogs (cifar), Oxford-IIIT Pet
(oxford) and drawn pets (drawn); decode turns picture files into squares once."""

from explainers.training.data.catsdogs.cifar import cifar_available, load_cifar_catsdog
from explainers.training.data.catsdogs.decode import (
    CLASSES,
    decode_files,
    decode_to_square,
    square_uint8,
)
from explainers.training.data.catsdogs.drawn import load_synthetic_pets, synthetic_pets
from explainers.training.data.catsdogs.folders import (
    IMAGE_SUFFIXES,
    LabelledFiles,
    label_paths,
    list_folders,
    load_folder,
    resolve_under,
    scan_folder,
)
from explainers.training.data.catsdogs.oxford import load_oxford_pets, oxford_available
from explainers.training.data.catsdogs.zips import (
    MAX_FILE_BYTES,
    MAX_ZIP_BYTES,
    MAX_ZIP_FILES,
    MAX_ZIP_UNPACKED,
    QuotaExceeded,
    ZipImport,
    ZipRefused,
    check_zip_entries,
    import_zip,
)
from explainers.training.data.spec import SIZES

__all__ = [
    "CLASSES", "IMAGE_SUFFIXES", "MAX_FILE_BYTES", "MAX_ZIP_BYTES", "MAX_ZIP_FILES", "MAX_ZIP_UNPACKED", "SIZES",
    "LabelledFiles", "QuotaExceeded", "ZipImport", "ZipRefused", "check_zip_entries", "cifar_available", "decode_files",
    "decode_to_square", "import_zip", "label_paths", "list_folders", "load_cifar_catsdog", "load_folder",
    "load_oxford_pets", "load_synthetic_pets", "oxford_available", "resolve_under", "scan_folder",
    "square_uint8", "synthetic_pets",
]
