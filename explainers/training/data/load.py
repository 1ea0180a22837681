"""Load a dataset from its spec: one static dispatch on ``spec.source``, cached per process and data folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from explainers.training.data.base import (
    DatasetUnavailable,
    ImageDataset,
    Progress,
    root_or_default,
)
from explainers.training.data.cache import MemoryCache
from explainers.training.data.spec import DatasetSpec, as_spec
from explainers.training.data.uploads import check_access, uploads_root

_LOADED: MemoryCache[ImageDataset] = MemoryCache()  # (key, resolved data folder) -> dataset


def load_dataset(spec_or_key: DatasetSpec | str, data_dir: Path | str | None = None, download: bool = True,
                 progress: Progress | None = None, *, session: str | None = None) -> ImageDataset:
    """A spec (or a key, parsed by parse_spec: ValueError when bad) -> ImageDataset, cached per process.

    DatasetUnavailable (with what to do) when its files are missing and cannot be downloaded, or when a
    folder is not this ``session``'s to read (another visitor's uploads, the data folder itself)."""
    spec, root = as_spec(spec_or_key), root_or_default(data_dir)
    found = loaded(spec, root, session=session)
    if found is not None:
        if progress:
            progress(1.0, "loaded")
        return found
    return _LOADED.keep((spec.key, str(root.resolve())), _load(spec, root, download, progress))


def loaded(spec_or_key: DatasetSpec | str, data_dir: Path | str | None = None, *,
           session: str | None = None) -> ImageDataset | None:
    """The dataset if this process has already loaded it (nothing to read, no progress to show), else None.

    A folder is checked against ``session`` first, as ``load_dataset`` checks it (DatasetUnavailable): another
    session may have loaded it."""
    spec, root = as_spec(spec_or_key), root_or_default(data_dir)
    if spec.source == "folder":
        try:
            check_access(root, spec.folder, session)
        except ValueError as exc:
            raise DatasetUnavailable(str(exc)) from None
    return _LOADED.get((spec.key, str(root.resolve())))


def _load(spec: DatasetSpec, root: Path, download: bool, progress: Progress | None) -> ImageDataset:
    import explainers.training.data.catsdogs as catsdogs
    import explainers.training.data.digits as digits
    import explainers.training.data.mnist as mnist

    if spec.source == "synthetic-digits":
        return digits.load_synthetic_digits(root, progress)
    if spec.source in ("mnist", "fashion-mnist"):
        return mnist.load_idx_dataset(spec.source, root, download, progress)
    if spec.source == "synthetic-pets":
        return catsdogs.load_synthetic_pets(spec.size, progress)
    if spec.source == "cifar-catsdog":
        return catsdogs.load_cifar_catsdog(root, download, progress)
    if spec.source == "oxford-pets":
        return catsdogs.load_oxford_pets(root, download, progress, size=spec.size)
    try:  # a folder of the learner's own pictures (access was checked by load_dataset)
        path = catsdogs.resolve_under(root, spec.folder)
        uploads = uploads_root(root).resolve()
        # An upload's decoded cache lives in its session folder: counted in the quota, removed with it.
        cache_root = uploads / path.relative_to(uploads).parts[0] if uploads in path.parents else root
        return catsdogs.load_folder(path, spec.size, data_root=cache_root, progress=progress, name=spec.key)
    except ValueError as exc:
        raise DatasetUnavailable(str(exc)) from None
    except OSError as exc:  # e.g. a name the disk refuses: one line, no server path
        raise DatasetUnavailable(f"The folder {PurePosixPath(spec.folder).name[:60]!r} cannot be read "
                                 f"({exc.strerror or 'disk error'}).") from None


def is_available(spec_or_key: DatasetSpec | str, data_dir: Path | str | None = None) -> bool:
    """True when the dataset loads without a download (drawn sets and folders never download); False for a bad key."""
    try:
        spec = as_spec(spec_or_key)
    except ValueError:
        return False
    root = root_or_default(data_dir)
    if spec.source in ("mnist", "fashion-mnist"):
        from explainers.training.data.mnist import idx_available

        return idx_available(spec.source, root)
    if spec.source == "cifar-catsdog":
        from explainers.training.data.catsdogs import cifar_available

        return cifar_available(root)
    if spec.source == "oxford-pets":
        from explainers.training.data.catsdogs import oxford_available

        return oxford_available(root)
    return True
