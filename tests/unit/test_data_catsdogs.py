"""Cats-vs-dogs data: both folder layouts, zip uploads (good and hostile), decoding, caching, offline errors."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explainers.training.data import (
    BUILTIN_DATASETS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PREFETCH_COMMAND,
    DatasetSpec,
    DatasetUnavailable,
    catsdogs,
    clear_cache,
    dataset_menu,
    download,
    downloader,
    folder_spec,
    is_available,
    load_dataset,
    loaded,
    parse_spec,
)
from explainers.training.data.cache import cache_dir
from explainers.training.data.catsdogs import decode, zips


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    """A picture whose colour tells its class: cats reddish, dogs bluish."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt)
    return buf.getvalue()


CAT, DOG = (220, 40, 30), (30, 40, 220)


def _kaggle(root: Path, n: int = 6) -> Path:
    (root / "train").mkdir(parents=True)
    (root / "test1").mkdir()
    for i in range(n):
        (root / "train" / f"cat.{i}.jpg").write_bytes(_png(CAT, fmt="JPEG"))
        (root / "train" / f"dog.{i}.jpg").write_bytes(_png(DOG, fmt="JPEG"))
        (root / "test1" / f"{i}.jpg").write_bytes(_png(CAT, fmt="JPEG"))  # unlabelled: ignored
    return root


def _class_folders(root: Path, names=("cats", "dogs"), n: int = 5, split: bool = False) -> Path:
    for name, colour in zip(names, (CAT, DOG)):
        for part in (["train", "validation"] if split else [""]):
            d = root / part / name if part else root / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n if part != "validation" else 2):
                d.joinpath(f"img{i}.png").write_bytes(_png(colour))
    return root


def _zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _good_entries(n: int = 3) -> dict[str, bytes]:
    out = {f"pets/cat/{i}.png": _png(CAT) for i in range(n)}
    out.update({f"pets/dog/{i}.jpg": _png(DOG, fmt="JPEG") for i in range(n)})
    out["__MACOSX/pets/cat/._0.png"] = b"mac resource fork"
    return out


@pytest.fixture(autouse=True)
def _fresh_memory():
    clear_cache()
    yield
    clear_cache()


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- layouts


def test_label_paths_understands_both_layouts():
    files = catsdogs.label_paths(["train/cat.1.jpg", "train/dog.2.jpg", "train/Cat.3.JPG", "test1/4.jpg", "readme.png"])
    assert files.layout == "Kaggle file names"
    assert files.train == (("train/Cat.3.JPG", 0), ("train/cat.1.jpg", 0), ("train/dog.2.jpg", 1))
    assert files.unlabelled == 2 and files.test == ()
    files = catsdogs.label_paths(["x/Cats/a.png", "x/DOGS/b.png", "x/test/cat/c.png", "x/test/dog/d.png"])
    assert files.layout == "class folders"
    assert files.train == (("x/Cats/a.png", 0), ("x/DOGS/b.png", 1))
    assert files.test == (("x/test/cat/c.png", 0), ("x/test/dog/d.png", 1))
    # A "test" split with one class only is not a split: its files are training data.
    assert catsdogs.label_paths(["cat/a.png", "dog/b.png", "test/cat/c.png"]).test == ()


@pytest.mark.parametrize("layout", ["kaggle", "cat/dog", "cats/dogs", "split"])
def test_load_folder_in_every_layout(tmp_path, layout):
    if layout == "kaggle":
        root = _kaggle(tmp_path / "kaggle")
    elif layout == "split":
        root = _class_folders(tmp_path / "split", split=True)
    else:
        root = _class_folders(tmp_path / "classes", names=tuple(layout.split("/")))
    seen = []
    ds = catsdogs.load_folder(root, 64, data_root=tmp_path, progress=lambda f, m: seen.append(f))
    assert ds.classes == ("cat", "dog") and ds.channels == 3 and ds.image_size == 64
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    n = len(ds.train_y) + len(ds.test_y)
    assert n == (12 if layout == "kaggle" else 14 if layout == "split" else 10)
    if layout == "split":
        assert len(ds.test_y) == 4  # the validation/ folders are the test split
    assert set(ds.test_y.tolist()) == {0, 1} and set(ds.train_y.tolist()) == {0, 1}
    # The colour of every decoded picture matches its label: red cats, blue dogs.
    for x, y in ((ds.train_x, ds.train_y), (ds.test_x, ds.test_y)):
        red_minus_blue = x[:, 0].float().mean((1, 2)) - x[:, 2].float().mean((1, 2))
        assert torch.equal(red_minus_blue < 0, y == 1)
    assert seen and seen[-1] == 1.0
    assert ds.mean == IMAGENET_MEAN and ds.std == IMAGENET_STD


def test_decoded_once_then_cached_on_disk(tmp_path, monkeypatch):
    root = _class_folders(tmp_path / "pics")
    first = catsdogs.load_folder(root, 64, data_root=tmp_path)
    assert list(cache_dir(tmp_path).glob("*.pt"))
    clear_cache()
    monkeypatch.setattr(decode, "decode_to_square", lambda *a: pytest.fail("decoded again"))
    again = catsdogs.load_folder(root, 64, data_root=tmp_path)
    assert torch.equal(first.train_x, again.train_x) and torch.equal(first.test_y, again.test_y)
    assert catsdogs.load_folder(root, 64, data_root=tmp_path) is again  # memory cache


def test_cache_notices_new_files(tmp_path):
    root = _class_folders(tmp_path / "pics")
    first = catsdogs.load_folder(root, 64, data_root=tmp_path)
    assert len(first.train_y) + len(first.test_y) == 10
    (root / "cats" / "extra.png").write_bytes(_png(CAT))
    (root / "dogs" / "extra.png").write_bytes(_png(DOG))
    clear_cache()
    ds = catsdogs.load_folder(root, 64, data_root=tmp_path)
    assert len(ds.train_y) + len(ds.test_y) == 12


def test_broken_files_in_a_folder_are_skipped(tmp_path):
    root = _class_folders(tmp_path / "pics")
    (root / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    ds = catsdogs.load_folder(root, 64, data_root=tmp_path)
    assert len(ds.train_y) + len(ds.test_y) == 10


@pytest.mark.parametrize("size", [64, 96, 128])
def test_centre_crop_and_resize(size):
    img = np.zeros((60, 120, 3), np.uint8)
    img[:, 30:90] = 255  # a white square in the middle of a wide black picture
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    out = catsdogs.decode_to_square(buf.getvalue(), size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    assert out[size // 2, 2:-2].min() > 240  # the crop kept exactly the white middle


def test_folders_with_too_few_pictures_are_refused(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.png").write_bytes(_png(CAT))
    with pytest.raises(ValueError, match="at least 2 pictures of each class"):
        catsdogs.scan_folder(tmp_path)
    with pytest.raises(ValueError, match="no folder"):
        catsdogs.scan_folder(tmp_path / "missing")


def test_resolve_under_and_listing(tmp_path):
    _class_folders(tmp_path / "mine" / "pets")
    _kaggle(tmp_path / "kaggle")
    assert catsdogs.resolve_under(tmp_path, "mine/pets") == (tmp_path / "mine" / "pets").resolve()
    for bad in ("../etc", "/etc", "mine/../../x"):
        with pytest.raises(ValueError):
            catsdogs.resolve_under(tmp_path, bad)
    assert catsdogs.list_folders(tmp_path) == ["kaggle", "mine/pets"]


# ----------------------------------------------------------------------------- zips


def test_good_zip_is_unpacked_and_loads(tmp_path):
    data = _zip(_good_entries())
    imp = catsdogs.import_zip(data, tmp_path, session="s1")
    assert imp.folder.is_dir() and imp.relative.startswith("uploads/") and imp.ignored == 1
    assert imp.files.counts() == {"cat": 3, "dog": 3}
    assert not (imp.folder / "__MACOSX").exists()
    spec = folder_spec(imp.relative, 64)
    assert loaded(spec, tmp_path, session="s1") is None  # not yet in memory: the page shows progress
    ds = load_dataset(spec, tmp_path, session="s1")
    assert len(ds.train_y) + len(ds.test_y) == 6
    assert loaded(spec, tmp_path, session="s1") is ds  # in memory: the page draws no progress bar
    with pytest.raises(DatasetUnavailable):  # loaded by s1, still not s2's to read
        loaded(spec, tmp_path, session="s2")
    assert catsdogs.import_zip(data, tmp_path, session="s1").folder == imp.folder  # the same upload again is reused
    assert not list((tmp_path / "uploads").glob(".incoming-*"))


@pytest.mark.parametrize(
    "entries, symlinks, message",
    [
        ({**_good_entries(), "../evil.png": _png(CAT)}, (), "climbs out"),
        ({**_good_entries(), "pets/cat/../../../evil.png": _png(CAT)}, (), "climbs out"),
        ({**_good_entries(), "/etc/evil.png": _png(CAT)}, (), "absolute"),
        ({**_good_entries(), "C:/evil.png": _png(CAT)}, (), "absolute"),
        ({**_good_entries(), "pets\\cat\\x.png": _png(CAT)}, (), "Windows-style"),
        ({**_good_entries(), "pets/cat/link.png": b"/etc/passwd"}, ("pets/cat/link.png",), "link"),
        ({**_good_entries(), "pets/notes.txt": b"hello"}, (), "not a picture"),
        ({**_good_entries(), "pets/cat/fake.png": b"this is text, not a PNG"}, (), "fake.png"),
        ({**_good_entries(), "pets/dog/cut.png": _png(DOG)[:60]}, (), "cut.png"),
        ({"pets/cat/0.png": _png(CAT), "pets/dog/0.png": _png(DOG)}, (), "at least 2 pictures"),
        ({"__MACOSX/x": b""}, (), "no pictures"),
    ],
)
def test_hostile_or_unusable_zips_are_refused_and_leave_nothing(tmp_path, entries, symlinks, message):
    with pytest.raises(catsdogs.ZipRefused, match=message) as err:
        catsdogs.import_zip(_zip(entries, symlinks), tmp_path, session="s1")
    assert "Nothing was saved" in str(err.value)
    assert _all_files(tmp_path) == []
    assert not (tmp_path.parent / "evil.png").exists()


def test_zip_caps(tmp_path):
    data = _zip(_good_entries(3))
    with pytest.raises(catsdogs.ZipRefused, match="holds 7 files; the limit is 5"):
        catsdogs.import_zip(data, tmp_path, session="s1", max_files=5)
    with pytest.raises(catsdogs.ZipRefused, match="the limit is"):
        catsdogs.import_zip(data, tmp_path, session="s1", max_bytes=len(data) - 1)
    with pytest.raises(catsdogs.ZipRefused, match="unpacks to more than"):
        catsdogs.import_zip(data, tmp_path, session="s1", max_unpacked=1024 * 1024 // 4096)
    with pytest.raises(catsdogs.ZipRefused, match="not a zip"):
        catsdogs.import_zip(b"PK\x03\x04 but broken", tmp_path, session="s1")
    assert _all_files(tmp_path) == []


def test_a_bomb_with_a_lying_size_header_is_refused(tmp_path):
    """An entry whose header claims a small size but inflates to much more must not be written."""
    entries = _good_entries()
    data = bytearray(_zip({**entries, "pets/dog/big.png": _png(DOG, size=(400, 400))}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("pets/dog/big.png")
    # Shrink the declared uncompressed size in the central directory: reading stops early, CRC fails.
    name = b"pets/dog/big.png"
    pos = bytes(data).find(b"PK\x01\x02", 0)
    while pos != -1:
        n_len = int.from_bytes(data[pos + 28:pos + 30], "little")
        if bytes(data[pos + 46:pos + 46 + n_len]) == name:
            data[pos + 24:pos + 28] = (100).to_bytes(4, "little")
            break
        pos = bytes(data).find(b"PK\x01\x02", pos + 4)
    assert pos != -1 and info.file_size > 100
    with pytest.raises(catsdogs.ZipRefused, match="big.png"):
        catsdogs.import_zip(bytes(data), tmp_path, session="s1")
    assert _all_files(tmp_path) == []


def test_failure_while_writing_removes_the_partial_folder(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = zips.load_image

    def flaky(data, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise zips.ImageError("This image could not be decoded (it is damaged).")
        return real(data, **kw)

    monkeypatch.setattr(zips, "load_image", flaky)
    with pytest.raises(catsdogs.ZipRefused, match="damaged"):
        catsdogs.import_zip(_zip(_good_entries()), tmp_path, session="s1")
    assert _all_files(tmp_path) == [] and not list((tmp_path / "uploads").iterdir())


# ----------------------------------------------------------------------------- registry, downloads, drawn pets


def test_keys_parse_into_values_and_register_nothing(tmp_path):
    """The former registry assertions, now on values: every key parses, and nothing becomes a menu entry."""
    assert parse_spec("cifar-catsdog").key == "cifar-catsdog"
    assert DatasetSpec("oxford-pets", 96).key == "oxford-pets@96" and "oxford-pets@96" not in BUILTIN_DATASETS
    assert dataset_menu("oxford-pets@96")["oxford-pets@96"] == "Oxford-IIIT Pet (96 px)"
    assert DatasetSpec("synthetic-pets", 64).key == "synthetic-pets"
    assert folder_spec("mine/pets", 128).key == "folder:mine/pets@128"
    assert parse_spec("folder:other@64") == folder_spec("other", 64) and "folder:other@64" not in BUILTIN_DATASETS
    for bad in ("folder:x@65", "nonsense"):
        with pytest.raises(ValueError):
            parse_spec(bad)
    with pytest.raises(ValueError):
        folder_spec("../up", 64)
    with pytest.raises(ValueError):
        DatasetSpec("oxford-pets", 50)
    assert parse_spec("oxford-pets@128").is_catsdogs and not parse_spec("mnist").is_catsdogs
    for spec in [DatasetSpec("cifar-catsdog"), DatasetSpec("oxford-pets", 96), DatasetSpec("synthetic-pets", 64),
                 folder_spec("a/b c", 128)]:
        assert parse_spec(spec.key) == spec


def test_folder_key_outside_or_missing_gives_a_clear_error(tmp_path):
    with pytest.raises(DatasetUnavailable, match="no folder"):
        load_dataset(folder_spec("not/there", 64), tmp_path)


@pytest.mark.parametrize("key", ["cifar-catsdog", "oxford-pets"])
def test_offline_downloads_fail_with_instructions(tmp_path, monkeypatch, key):
    def offline(*a, **kw):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(downloader.urllib.request, "urlopen", offline)
    assert not is_available(key, tmp_path)
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(key, tmp_path)
    msg = str(err.value)
    assert "could not be downloaded" in msg and PREFETCH_COMMAND in msg and "Drawn cats & dogs" in msg
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    with pytest.raises(DatasetUnavailable, match="downloads are switched off"):
        load_dataset(key, tmp_path, download=False)


def test_cifar_subset_from_a_local_copy(tmp_path, monkeypatch):
    """A tiny fake CIFAR-10 in torchvision's layout: only cats (3) and dogs (5) are kept, relabelled 0/1."""
    import pickle

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    labels = [3, 5, 1, 3, 9, 5, 5, 0]
    batch = {"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), "labels": labels}
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (base / f).write_bytes(pickle.dumps(batch))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": ["x"] * 10}))
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # md5s of the real files
    assert is_available("cifar-catsdog", tmp_path)
    ds = catsdogs.load_cifar_catsdog(tmp_path, download=False)
    assert ds.train_x.shape == (5 * 5, 3, 32, 32) and ds.test_x.shape == (5, 3, 32, 32)
    assert ds.test_y.tolist() == [0, 1, 0, 1, 1]
    np.testing.assert_array_equal(ds.test_x[0].permute(1, 2, 0).numpy(), batch["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))


def test_oxford_from_a_local_copy(tmp_path):
    base = tmp_path / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations").mkdir()
    rows = {"trainval": [("Abyssinian_1", 1, 1), ("beagle_1", 2, 2), ("Bengal_1", 3, 1)],
            "test": [("Abyssinian_2", 1, 1), ("beagle_2", 2, 2)]}
    for split, items in rows.items():
        lines = []
        for name, cls, binary in items:
            (base / "images" / f"{name}.jpg").write_bytes(_png(CAT if binary == 1 else DOG, size=(50, 40), fmt="JPEG"))
            lines.append(f"{name} {cls} {binary} 1")
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    assert is_available("oxford-pets", tmp_path)
    ds = catsdogs.load_oxford_pets(tmp_path, download=False, size=64)
    assert ds.train_y.tolist() == [0, 1, 0] and ds.test_y.tolist() == [0, 1]
    assert ds.train_x.shape == (3, 3, 64, 64)
    assert ds.train_x[1, 2].float().mean() > ds.train_x[1, 0].float().mean()  # the dog is blue


def test_synthetic_pets_are_balanced_and_reproducible():
    a = catsdogs.synthetic_pets(n_train=40, n_test=10, size=64, seed=3)
    b = catsdogs.synthetic_pets(n_train=40, n_test=10, size=64, seed=3)
    assert torch.equal(a.train_x, b.train_x) and a.train_x.shape == (40, 3, 64, 64)
    assert a.train_y.sum() == 20 and a.synthetic
    assert not torch.equal(a.train_x[:10], a.test_x)


def test_prefetch_reports_offline_failures(tmp_path, monkeypatch):
    """What the CLI's download command prints: a failed result per name, with the pre-fetch command."""
    monkeypatch.setattr(downloader.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    (result,) = download(["cifar-catsdog"], tmp_path)
    assert not result.ok and "could not be downloaded" in result.message
    assert PREFETCH_COMMAND in result.message
    assert os.listdir(tmp_path) == []


def test_cifar_download_unpack_and_progress_from_a_local_mirror(tmp_path, monkeypatch):
    """The whole download path (stream, md5, progress, safe unpack) against a file:// mirror of a tiny CIFAR."""
    import hashlib
    import pickle
    import tarfile

    import torchvision.datasets.cifar as tv_cifar
    from torchvision.datasets import CIFAR10

    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    batch = {"data": np.zeros((4, 3072), np.uint8), "labels": [3, 5, 5, 0]}
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (src / f).write_bytes(pickle.dumps(batch))
    (src / "batches.meta").write_bytes(pickle.dumps({"label_names": ["x"] * 10}))
    archive = tmp_path / "src" / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "url", archive.as_uri())
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    data = tmp_path / "data"
    seen = []
    ds = catsdogs.load_cifar_catsdog(data, download=True, progress=lambda f, m: seen.append((f, m)))
    assert ds.train_y.tolist() == [0, 1, 1] * 5 and ds.test_y.tolist() == [0, 1, 1]
    assert any("downloading" in m for _, m in seen) and seen[-1][0] == 1.0
    assert all(0.0 <= f <= 1.0 for f, _ in seen)
    assert catsdogs.cifar_available(data) and not list(data.glob("*.part"))
    # A damaged download (wrong checksum) is refused and not kept.
    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(DatasetUnavailable, match="checksum"):
        catsdogs.load_cifar_catsdog(tmp_path / "other", download=True)
    assert not [p for p in (tmp_path / "other").rglob("*") if p.is_file()]
