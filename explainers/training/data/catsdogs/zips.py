"""Zip uploads of cats and dogs, checked before anything is unpacked: names (no absolute paths, no '..'),
entry types (no links), sizes (files, total, one picture), passwords, and every picture decoded by Pillow.
A refused zip leaves nothing on disk; an accepted one is unpacked to ``<data>/uploads/<hash>/``."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from explainers.images import ImageError, load_image
from explainers.training.data.base import Progress
from explainers.training.data.catsdogs.folders import (
    IMAGE_SUFFIXES,
    JUNK,
    LabelledFiles,
    check_enough,
    label_paths,
    scan_folder,
)

# Zip upload limits: Streamlit already refuses uploads over server.maxUploadSize (10 MB here).
MAX_ZIP_BYTES = 100 * 1024 * 1024  # the zip itself
MAX_ZIP_FILES = 5000  # entries that are files
MAX_ZIP_UNPACKED = 400 * 1024 * 1024  # sum of the declared uncompressed sizes
MAX_FILE_BYTES = 25 * 1024 * 1024  # one image (load_image's own limit)


class ZipRefused(ValueError):
    """An uploaded zip that was not accepted; the message says why, for the learner."""


@dataclass(frozen=True)
class ZipImport:
    """A checked, unpacked upload."""

    folder: Path  # absolute path of the unpacked folder
    relative: str  # the same, relative to the data folder (for folder_spec)
    files: LabelledFiles
    ignored: int  # macOS / Windows metadata entries skipped


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
        if JUNK.search(name):
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
            check_enough(files, "The zip")
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
