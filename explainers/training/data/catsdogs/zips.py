"""Zip uploads of cats and dogs, checked before anything is unpacked: names (no absolute paths, no '..'),
entry types (no links), sizes (files, total, one picture), passwords, and every picture decoded by Pillow.
A refused zip leaves nothing on disk; an accepted one is unpacked to ``<data>/uploads/<session>/<hash>/``, inside
the session's quota (explainers.training.data.uploads); a filesystem error is a one-line ZipRefused too."""

from __future__ import annotations

import errno
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
from explainers.training.data.uploads import (
    MB,
    claim_session_folder,
    room_left,
    session_folder,
)

# Zip upload limits: Streamlit already refuses uploads over server.maxUploadSize (10 MB here).
MAX_ZIP_BYTES = 100 * 1024 * 1024  # the zip itself
MAX_ZIP_FILES = 5000  # entries that are files
MAX_ZIP_UNPACKED = 400 * 1024 * 1024  # sum of the declared uncompressed sizes
MAX_FILE_BYTES = 25 * 1024 * 1024  # one image (load_image's own limit)
MAX_NAME_BYTES = 200  # one part of a path (most disks allow 255; the unpack folder adds its own)
MAX_PATH_CHARS = 1000


class ZipRefused(ValueError):
    """An uploaded zip that was not accepted; the message says why, for the learner."""


@dataclass(frozen=True)
class ZipImport:
    """A checked, unpacked upload."""

    folder: Path  # absolute path of the unpacked folder (for the server only: never shown to visitors)
    relative: str  # the same, relative to the data folder (for folder_spec): uploads/<session>/<hash>
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
        if len(name) > MAX_PATH_CHARS or any(len(p.encode()) > MAX_NAME_BYTES for p in PurePosixPath(name).parts):
            raise _refuse(f"The zip contains a name that is too long for the server's disk ({name[:40]!r}…).")
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
    _check_clashes(keep)
    return keep, ignored


def _check_clashes(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse two entries with one name, or a file and a folder of the same name (case-blind, as some disks)."""
    files: set[str] = set()
    folders: set[str] = set()
    for info in infos:
        parts = PurePosixPath(info.filename.lower()).parts
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        path = "/".join(parts)
        if path in files:
            raise _refuse(f"The zip holds {info.filename!r} twice (names differ only in case, or repeat).")
        files.add(path)
    both = files & folders
    if both:
        raise _refuse(f"The zip holds a file and a folder with the same name ({sorted(both)[0]!r}).")


def _disk_message(exc: OSError, name: str) -> str:
    """A filesystem error while unpacking -> one line for the learner (never a server path)."""
    if exc.errno == errno.ENAMETOOLONG:
        return f"A name in the zip is too long for the server's disk ({name[:40]!r}…)."
    if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return f"The zip holds a file and a folder with the same name ({name[:60]!r})."
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "The server's disk is full."
    return f"{name[:60]!r} could not be saved on the server ({exc.strerror or 'disk error'})."


def import_zip(
    data: bytes,
    data_root: Path,
    *,
    session: str,
    max_bytes: int = MAX_ZIP_BYTES,
    max_files: int = MAX_ZIP_FILES,
    max_unpacked: int = MAX_ZIP_UNPACKED,
    progress: Progress | None = None,
) -> ZipImport:
    """Check an uploaded zip and unpack it to <data>/uploads/<session>/<hash>/ (``session``: the web
    server's session id, a plain string). ZipRefused (one line) leaves nothing on disk; QuotaExceeded
    (also a ZipRefused) when the session or the server has no room left."""
    if len(data) > max_bytes:
        raise _refuse(f"The zip is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    room, why = room_left(data_root, session)
    if room <= 0:
        raise QuotaExceeded(f"{why} Nothing was saved.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _refuse("This file is not a zip archive we can read.") from None
    with zf:
        # The unpacked-size limit is scaled to what this session may still keep.
        try:
            infos, ignored = check_zip_entries(zf, max_files=max_files, max_unpacked=min(max_unpacked, room))
        except ZipRefused as exc:
            if room < max_unpacked and "unpacks to more than" in str(exc):
                raise QuotaExceeded(f"The zip unpacks to more than the {room / MB:.0f} MB your uploads may "
                                    "still use. Nothing was saved.") from None
            raise
        files = label_paths(i.filename for i in infos)
        try:
            check_enough(files, "The zip")
        except ValueError as exc:
            raise _refuse(str(exc)) from None
        digest = hashlib.sha256(data).hexdigest()[:16]
        new_home = not session_folder(data_root, session).exists()
        try:
            home = claim_session_folder(data_root, session)
        except OSError as exc:
            raise _refuse(_disk_message(exc, "uploads")) from None
        final = home / digest
        relative = f"{home.parent.name}/{home.name}/{digest}"
        if final.is_dir():  # this session unpacked the same zip before
            return ZipImport(final.resolve(), relative, scan_folder(final), ignored)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=home))
        except OSError as exc:
            raise _refuse(_disk_message(exc, "uploads")) from None
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
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with open(dest, "xb") as fh:  # "x": never overwrite (a clash the checks missed)
                        fh.write(raw)
                except OSError as exc:
                    raise _refuse(_disk_message(exc, info.filename)) from None
                if progress and (k % 25 == 0 or k == len(infos) - 1):
                    progress((k + 1) / len(infos), f"checked {k + 1} of {len(infos)} pictures")
            try:
                os.replace(tmp, final)
            except OSError as exc:
                if not final.is_dir():
                    raise _refuse(_disk_message(exc, digest)) from None
                shutil.rmtree(tmp, ignore_errors=True)  # a second tab of this session unpacked it first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if new_home:  # nothing of a refused first upload stays, not even the empty session folder
                shutil.rmtree(home, ignore_errors=True)
            raise
    return ZipImport(final.resolve(), relative, scan_folder(final), ignored)


class QuotaExceeded(ZipRefused):
    """The session's or the server's upload space is used up; the message says which."""
