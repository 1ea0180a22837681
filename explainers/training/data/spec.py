"""Data sources as values: a dataset key from a URL, a menu or the CLI parses into a frozen ``DatasetSpec``.

Key grammar (``spec.key`` writes the canonical form back; ``parse_spec(spec.key) == spec``):
    mnist | fashion-mnist | synthetic-digits | cifar-catsdog
    synthetic-pets[@SIZE] | oxford-pets[@SIZE] | folder:PATH[@SIZE]
SIZE is one of SIZES (64 when left out, and then left out of the canonical key); PATH is a folder
relative to the data folder (no '..', no leading '/', no '@'). Nothing here touches the disk or
any process-wide table: a folder named in a link is just a value until it is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import MappingProxyType

SIZES = (64, 96, 128)  # picture sizes (px) the cats-vs-dogs sources decode to
DEFAULT_SIZE = 64
MAX_FOLDER_CHARS = 200

# source -> menu label; sized sources add their size, folders their path
FIXED_SOURCES = {
    "synthetic-digits": "Synthetic digits (offline)",
    "mnist": "MNIST",
    "fashion-mnist": "Fashion-MNIST",
    "cifar-catsdog": "CIFAR-10 cats & dogs (32 px)",
}
SIZED_SOURCES = ("synthetic-pets", "oxford-pets", "folder")
CATSDOGS_SOURCES = ("synthetic-pets", "cifar-catsdog", "oxford-pets", "folder")

_KEY = re.compile(r"(?P<source>synthetic-pets|oxford-pets|folder:(?P<folder>[^@]*))(@(?P<size>[1-9]\d{0,3}))?")


@dataclass(frozen=True)
class DatasetSpec:
    """One data source: ``source`` (a key of FIXED_SOURCES or one of SIZED_SOURCES), the picture
    ``size`` for sized sources (None otherwise) and the ``folder`` under the data folder for "folder"."""

    source: str
    size: int | None = None
    folder: str | None = None

    def __post_init__(self) -> None:
        if self.source in FIXED_SOURCES:
            if self.size is not None or self.folder is not None:
                raise ValueError(f"The dataset {self.source!r} has no picture size or folder.")
            return
        if self.source not in SIZED_SOURCES:
            raise ValueError(f"Unknown dataset {self.source!r}; choose one of {', '.join(BUILTIN_DATASETS)} "
                             "or folder:NAME@SIZE.")
        if self.size not in SIZES:
            raise ValueError(f"The picture size must be one of {', '.join(map(str, SIZES))} px, not {self.size}.")
        if (self.source == "folder") != (self.folder is not None):
            raise ValueError("Only a folder dataset names a folder.")
        if self.folder is not None:
            _check_folder(self.folder)

    @property
    def key(self) -> str:
        """The canonical key, as written in URLs and accepted by the CLI."""
        if self.source in FIXED_SOURCES:
            return self.source
        suffix = "" if self.size == DEFAULT_SIZE and self.source != "folder" else f"@{self.size}"
        head = f"folder:{self.folder}" if self.source == "folder" else self.source
        return head + suffix

    @property
    def label(self) -> str:
        """The menu label."""
        if self.source in FIXED_SOURCES:
            return FIXED_SOURCES[self.source]
        if self.source == "synthetic-pets":
            return "Drawn cats & dogs (offline)" if self.size == DEFAULT_SIZE else \
                f"Drawn cats & dogs (offline, {self.size} px)"
        if self.source == "oxford-pets":
            return f"Oxford-IIIT Pet ({self.size} px)"
        return f"Your pictures: {self.folder} ({self.size} px)"

    @property
    def is_catsdogs(self) -> bool:
        """True for the two-class cats-vs-dogs sources (colour pictures, ImageNet statistics)."""
        return self.source in CATSDOGS_SOURCES

    @property
    def downloads(self) -> bool:
        """True when loading may need a download (the built-in photo and digit sets)."""
        return self.source in ("mnist", "fashion-mnist", "cifar-catsdog", "oxford-pets")

    def with_size(self, size: int) -> DatasetSpec:
        """The same source at another picture size (CIFAR stays 32 px, digits stay 28 px)."""
        if self.source not in SIZED_SOURCES:
            return self
        return DatasetSpec(self.source, int(size), self.folder)


def _check_folder(folder: str) -> None:
    if not folder or not folder.strip():
        raise ValueError("Choose a folder.")
    if len(folder) > MAX_FOLDER_CHARS:
        raise ValueError(f"The folder name is longer than {MAX_FOLDER_CHARS} characters.")
    if "@" in folder or "\\" in folder or any(ord(c) < 32 for c in folder):
        raise ValueError("A folder name may not contain '@', '\\' or control characters.")
    rel = PurePosixPath(folder)
    if rel.is_absolute() or ".." in rel.parts or rel.as_posix() != folder:
        raise ValueError("Give a folder inside the data folder, without '..' or a leading '/'.")


def folder_spec(folder: str, size: int = DEFAULT_SIZE) -> DatasetSpec:
    """A folder named by a learner (e.g. "mine/pets", "uploads\\ab12") -> its spec; ValueError when unusable."""
    text = str(folder).replace("\\", "/")
    if text.strip().startswith("/"):
        raise ValueError("Give a folder inside the data folder, without '..' or a leading '/'.")
    # Each part trimmed; empty and "." parts dropped: " " or "./" name no folder (never the whole data folder).
    parts = [p.strip() for p in text.split("/")]
    parts = [p for p in parts if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("Give a folder inside the data folder, without '..' or a leading '/'.")
    if not parts:
        raise ValueError("Choose a folder: a name inside the data folder.")
    return DatasetSpec("folder", int(size), "/".join(parts))


def parse_spec(key: str) -> DatasetSpec:
    """A dataset key -> DatasetSpec; ValueError with a one-line message for unknown or bad keys."""
    if not isinstance(key, str):
        raise ValueError(f"A dataset key is text, not {type(key).__name__}.")
    if key in FIXED_SOURCES:
        return DatasetSpec(key)
    m = _KEY.fullmatch(key)
    if not m:
        shown = key if len(key) <= 60 else key[:57] + "..."
        raise ValueError(f"Unknown dataset {shown!r}; choose one of {', '.join(BUILTIN_DATASETS)} "
                         "or folder:NAME@SIZE.")
    size = int(m.group("size")) if m.group("size") else DEFAULT_SIZE
    if m.group("folder") is not None:
        return DatasetSpec("folder", size, m.group("folder"))
    return DatasetSpec(m.group("source"), size)


def as_spec(spec_or_key: DatasetSpec | str) -> DatasetSpec:
    """Accept either form."""
    return spec_or_key if isinstance(spec_or_key, DatasetSpec) else parse_spec(spec_or_key)


def is_catsdogs_key(key: str) -> bool:
    """True for a well-formed cats-vs-dogs key (False for digit sets and for anything malformed)."""
    try:
        return parse_spec(key).is_catsdogs
    except ValueError:
        return False


def dataset_menu(*current: object) -> dict[str, str]:
    """BUILTIN_DATASETS plus each well-formed key among ``current`` (e.g. the one in the URL) -> key: label.

    A fresh dict per call: what one visitor's link names is shown to that visitor only."""
    menu = dict(BUILTIN_DATASETS)
    for key in current:
        if isinstance(key, str) and key not in menu:
            try:
                spec = parse_spec(key)
            except ValueError:
                continue
            menu[spec.key] = spec.label
    return menu


# The static menu (no folders): key -> label, in the order the page lists them. Read-only: nothing
# can be added to it at run time.
BUILTIN_DATASETS: Mapping[str, str] = MappingProxyType({
    spec.key: spec.label for spec in (
        DatasetSpec("synthetic-digits"), DatasetSpec("mnist"), DatasetSpec("fashion-mnist"),
        DatasetSpec("synthetic-pets", DEFAULT_SIZE), DatasetSpec("cifar-catsdog"),
        DatasetSpec("oxford-pets", DEFAULT_SIZE),
    )
})
