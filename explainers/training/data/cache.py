"""Caches: decoded datasets kept in memory per process (read-only, shared) and tensors saved under
``<data>/cache/`` so the next process skips the slow part (drawing or decoding pictures)."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


class MemoryCache(Generic[T]):
    """A thread-safe dict of built values; every instance is emptied by clear_cache()."""

    _all: list[MemoryCache] = []  # the caches of this process (a fixed handful, made at import)

    def __init__(self) -> None:
        self._items: dict[Hashable, T] = {}
        self._lock = threading.Lock()
        MemoryCache._all.append(self)

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            return self._items.get(key)

    def keep(self, key: Hashable, value: T) -> T:
        """Store value unless another thread stored one first -> the value that is kept."""
        with self._lock:
            return self._items.setdefault(key, value)

    def get_or_build(self, key: Hashable, build: Callable[[], T]) -> T:
        """The cached value, else build() (outside the lock: builds can be slow) and keep it."""
        found = self.get(key)
        return found if found is not None else self.keep(key, build())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def clear_cache() -> None:
    """Forget every dataset held in memory by this process (tests); disk caches stay."""
    for cache in MemoryCache._all:
        cache.clear()


def read_tensors(path: Path) -> dict[str, torch.Tensor] | None:
    """A dict of tensors saved by write_tensors, or None when absent or unreadable (then it is rebuilt)."""
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable cache (missing, truncated, garbage, old format) is rebuilt
        return None
    return blob if isinstance(blob, dict) else None


def write_tensors(path: Path, tensors: dict[str, object]) -> None:
    """Save atomically (a temporary file, then a rename); a read-only data folder only costs a rebuild."""
    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        os.close(fd)
        try:
            torch.save(tensors, tmp)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass


_DECODED: MemoryCache = MemoryCache()  # "<data root>|<key>" -> ImageDataset of decoded pictures


def cache_dir(data_root: Path) -> Path:
    """Where decoded cats-vs-dogs pictures are kept between processes."""
    return Path(data_root) / "cache" / "catsdogs"


def decoded_dataset(data_root: Path, key: str, build: Callable[[], object],
                    restore: Callable[[dict], object], progress: Callable[[float, str], None] | None = None):
    """Memory, then <data>/cache/catsdogs/<key>.pt (``restore(tensors)``), then ``build()`` (kept in both).

    key must change whenever the pictures or the decoding change (it names the file)."""
    memory_key = f"{Path(data_root).resolve()}|{key}"
    found = _DECODED.get(memory_key)
    if found is not None:
        return found
    path = cache_dir(data_root) / f"{key}.pt"
    ds = None
    blob = read_tensors(path) if path.is_file() else None
    if blob is not None:
        try:
            ds = restore(blob)
        except (KeyError, TypeError, ValueError):
            ds = None  # a damaged cache file is rebuilt
        if ds is not None and progress:
            progress(1.0, "loaded decoded pictures from the cache")
    if ds is None:
        ds = build()
        write_tensors(path, {"train_x": ds.train_x, "train_y": ds.train_y, "test_x": ds.test_x, "test_y": ds.test_y,
                             "synthetic": ds.synthetic})
    return _DECODED.keep(memory_key, ds)
