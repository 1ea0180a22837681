"""Uploads per session (issue 16): quotas, privacy, one-line filesystem errors, clean-up of ended sessions."""

from __future__ import annotations

import errno
import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from explainers.training.data import (
    DatasetUnavailable,
    catsdogs,
    folder_spec,
    load_dataset,
    parse_spec,
)
from explainers.training.data import uploads as up
from explainers.training.data.catsdogs import zips


def _png(seed: int, side: int = 16) -> bytes:
    """A noise picture (noise does not compress: its size on disk is about side*side*3 bytes)."""
    arr = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _pets(seed: int, side: int = 16, n: int = 2) -> bytes:
    return _zip({f"{c}/{i}.png": _png(seed * 100 + k * 10 + i, side) for k, c in enumerate(("cat", "dog"))
                 for i in range(n)})


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- quotas (the disk test)


def test_uploads_past_the_session_quota_are_refused_and_a_closed_session_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_LENS_SESSION_QUOTA_MB", "1")
    first = catsdogs.import_zip(_pets(1, side=250), tmp_path, session="alice")  # 4 x ~188 kB
    assert first.relative.startswith("uploads/") and "alice" not in first.relative
    used = up.folder_bytes(up.session_folder(tmp_path, "alice"))
    assert 600_000 < used < up.MB
    with pytest.raises(catsdogs.QuotaExceeded, match="MB your uploads may still use") as err:
        catsdogs.import_zip(_pets(2, side=250), tmp_path, session="alice")  # would pass 1 MB
    assert "Nothing was saved" in str(err.value) and str(tmp_path) not in str(err.value)
    assert up.folder_bytes(up.session_folder(tmp_path, "alice")) == used  # nothing partial
    catsdogs.import_zip(_pets(3, side=150), tmp_path, session="alice")  # small enough to fit
    with pytest.raises(catsdogs.QuotaExceeded):
        catsdogs.import_zip(_pets(4, side=250), tmp_path, session="alice")
    # Another visitor has a quota of their own.
    catsdogs.import_zip(_pets(2, side=250), tmp_path, session="bob")
    # Alice closes her tab: her uploads are gone, Bob's stay, and Alice's room is back.
    up.remove_session(tmp_path, "alice")
    assert not up.session_folder(tmp_path, "alice").exists()
    assert up.list_session_uploads(tmp_path, "bob")
    catsdogs.import_zip(_pets(2, side=250), tmp_path, session="alice")


def test_the_total_quota_refuses_every_session(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_LENS_TOTAL_QUOTA_MB", "1")
    catsdogs.import_zip(_pets(1, side=250), tmp_path, session="a")
    catsdogs.import_zip(_pets(2, side=150), tmp_path, session="b")
    (up.session_folder(tmp_path, "b") / "pad.bin").write_bytes(b"\0" * up.MB)  # the server is now full
    with pytest.raises(catsdogs.QuotaExceeded, match="upload space") as err:
        catsdogs.import_zip(_pets(3), tmp_path, session="c")
    assert str(tmp_path) not in str(err.value)
    assert not up.session_folder(tmp_path, "c").exists()


def test_quota_settings_have_sane_defaults(monkeypatch):
    monkeypatch.delenv("NEURAL_LENS_SESSION_QUOTA_MB", raising=False)
    monkeypatch.delenv("NEURAL_LENS_TOTAL_QUOTA_MB", raising=False)
    assert up.session_quota() == 500 * up.MB and up.total_quota() == 5 * 1024 * up.MB
    monkeypatch.setenv("NEURAL_LENS_SESSION_QUOTA_MB", "not a number")
    assert up.session_quota() == 500 * up.MB


# ----------------------------------------------------------------------------- privacy


def test_other_sessions_never_list_or_load_an_upload(tmp_path):
    imp = catsdogs.import_zip(_pets(1), tmp_path, session="alice")
    (tmp_path / "teacher" / "cats").mkdir(parents=True)
    for name in ("cats", "dogs"):
        (tmp_path / "teacher" / name).mkdir(exist_ok=True)
        for i in range(2):
            (tmp_path / "teacher" / name / f"{i}.png").write_bytes(_png(i + (10 if name == "dogs" else 0)))
    os.symlink(tmp_path / "uploads", tmp_path / "sneaky")  # an operator folder that leads into uploads/
    assert catsdogs.list_folders(tmp_path) == ["teacher"]  # operator folders only
    assert up.list_session_uploads(tmp_path, "alice") == [imp.relative]
    assert up.list_session_uploads(tmp_path, "bob") == [] and up.list_session_uploads(tmp_path, None) == []
    spec = folder_spec(imp.relative, 64)
    assert len(load_dataset(spec, tmp_path, session="alice").train_y) > 0
    # The dataset is now in the process cache: Bob still cannot have it.
    for session in ("bob", None):
        with pytest.raises(DatasetUnavailable, match="another session"):
            load_dataset(spec, tmp_path, session=session)
    for key in ("folder:.@64", "folder:uploads@64", f"folder:{imp.relative.rsplit('/', 1)[0]}@64",
                "folder:sneaky@64", f"folder:sneaky/{imp.relative.split('/', 1)[1]}@64"):
        with pytest.raises(DatasetUnavailable) as err:
            load_dataset(parse_spec(key), tmp_path, session="bob")
        assert str(tmp_path) not in str(err.value), key
    assert len(load_dataset(parse_spec("folder:teacher@64"), tmp_path, session="bob").train_y) > 0


def test_long_or_missing_folder_keys_are_one_line_messages(tmp_path):
    with pytest.raises(ValueError, match="longer than"):
        parse_spec("folder:" + "x" * 300 + "@64")
    for key in ("folder:" + "x" * 190 + "/" + "y" * 9 + "@64", "folder:missing@64"):
        with pytest.raises(DatasetUnavailable, match="no folder") as err:
            load_dataset(parse_spec(key), tmp_path, session="s")
        assert str(tmp_path) not in str(err.value) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------- filesystem errors


@pytest.mark.parametrize(
    "entries, message",
    [
        ({"cat/a.png": _png(1), "cat/b.png": _png(2), "dog/a.png": _png(3), "dog/b.png": _png(4),
          "cat/a.png/c.png": _png(5)}, "file and a folder with the same name"),
        ({"cat/a.png": _png(1), "cat/b.png": _png(2), "dog/a.png": _png(3), "dog/b.png": _png(4),
          "dog/B.PNG": _png(6)}, "twice"),
        ({"cat/a.png": _png(1), "cat/b.png": _png(2), "dog/a.png": _png(3), "dog/b.png": _png(4),
          "dog/" + "n" * 300 + ".png": _png(5)}, "too long"),
    ],
)
def test_names_the_disk_would_refuse_are_one_line_messages(tmp_path, entries, message):
    with pytest.raises(catsdogs.ZipRefused, match=message) as err:
        catsdogs.import_zip(_zip(entries), tmp_path, session="s")
    text = str(err.value)
    assert "\n" not in text and "Errno" not in text and str(tmp_path) not in text
    assert _files(tmp_path) == []


@pytest.mark.parametrize("code, message", [(errno.ENOSPC, "disk is full"), (errno.ENAMETOOLONG, "too long"),
                                           (errno.EEXIST, "same name"), (errno.EACCES, "could not be saved")])
def test_an_os_error_while_unpacking_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code, message):
    real_open = open
    calls = {"n": 0}

    def failing_open(path, mode="r", *a, **kw):
        if mode == "xb":
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(code, os.strerror(code), str(path))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(catsdogs.ZipRefused, match=message) as err:
        catsdogs.import_zip(_pets(1), tmp_path, session="s")
    monkeypatch.undo()
    assert str(tmp_path) not in str(err.value) and "Errno" not in str(err.value)
    assert _files(tmp_path) == [] and not list((tmp_path / "uploads").iterdir())


# ----------------------------------------------------------------------------- orphans


def test_orphans_of_a_dead_server_are_removed_and_live_ones_kept(tmp_path):
    live = catsdogs.import_zip(_pets(1), tmp_path, session="live")
    dead = up.session_folder(tmp_path, "dead")
    dead.mkdir(parents=True)
    (dead / up.OWNER_FILE).write_text(f"{os.uname().nodename} 999999999 1")
    (dead / "x.png").write_bytes(b"x")
    reused_pid = up.session_folder(tmp_path, "reused")  # our pid, but another process's start time
    reused_pid.mkdir()
    (reused_pid / up.OWNER_FILE).write_text(f"{os.uname().nodename} {os.getpid()} 1")
    stale = tmp_path / "uploads" / ".incoming-abc"
    stale.mkdir()
    old = tmp_path / "uploads" / "0123456789abcdef"  # the layout before sessions
    old.mkdir()
    removed = up.remove_orphans(tmp_path, now=os.stat(stale).st_mtime + up.STALE_UNMARKED_S + 1)
    assert sorted(removed) == sorted([dead.name, reused_pid.name, stale.name, old.name])
    assert live.folder.is_dir()
    fresh = tmp_path / "uploads" / ".incoming-new"  # maybe another process unpacking right now
    fresh.mkdir()
    assert up.remove_orphans(tmp_path) == [] and fresh.is_dir()


def test_check_clashes_is_used_by_the_entry_checks():
    infos = [zipfile.ZipInfo(n) for n in ("cat/a.png", "cat/a.png/b.png")]
    with pytest.raises(catsdogs.ZipRefused, match="same name"):
        zips._check_clashes(infos)
