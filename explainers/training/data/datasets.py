"""Image datasets as in-memory uint8 tensors: MNIST, Fashion-MNIST and an offline synthetic set.

Every dataset is an ``ImageDataset`` holding uint8 tensors (N, C, H, W) and int64 labels (N,).
They are shared read-only between sessions (``load_dataset`` caches them per process): never
modify them in place. Batches are normalised on the fly with ``mean``/``std``.

MNIST and Fashion-MNIST live in torchvision's own layout under the data folder
(``NEURAL_LENS_DATA``, default ``./data``): ``<data>/MNIST/raw/train-images-idx3-ubyte`` etc.
(the ``.gz`` files are accepted too), so an existing torchvision download is reused. Files are
decoded by ``torchvision.datasets.MNIST`` itself. Downloads use short socket timeouts, report
progress, and raise ``DatasetUnavailable`` with instructions when they fail.

Additions beyond the shared contract:
- ``register_dataset(key, label, loader)``: ``loader(data_dir: Path, download: bool, progress)``
  returns an ``ImageDataset``; the key then appears in ``DATASETS``.
- ``is_available(name, data_dir=None)``: True when no download is needed.
- ``dataset_files(name)``: the file names a dataset needs (for help messages).
- ``clear_cache()``: forget the in-process cache (tests).
- ``ImageDataset.normalize(x_uint8) -> float tensor`` on x's device.

CLI: ``python -m explainers.training.data.datasets download mnist fashion-mnist [--data-dir DIR]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import sys
import threading
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily so that importing this module stays cheap
    import torch

Progress = Callable[[float, str], None]

DOWNLOAD_TIMEOUT_S = 6.0  # per socket operation: a blocked network fails fast instead of hanging
PREFETCH_COMMAND = "python -m explainers.training.data.datasets download mnist fashion-mnist"


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing and could not be downloaded; the message says what to do."""


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image set in memory: uint8 images (N, C, H, W), int64 labels (N,)."""

    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor  # (N_train, C, H, W) uint8
    train_y: torch.Tensor  # (N_train,) int64
    test_x: torch.Tensor  # (N_test, C, H, W) uint8
    test_y: torch.Tensor  # (N_test,) int64
    synthetic: bool
    mean: tuple[float, ...]  # per channel, on the 0..1 scale
    std: tuple[float, ...]  # per channel, on the 0..1 scale
    label: str = ""  # display name

    @property
    def channels(self) -> int:
        """Number of image channels C."""
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        """Image height H (images are square)."""
        return int(self.train_x.shape[2])

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return len(self.classes)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float32 (B, C, H, W), (x/255 - mean)/std, on x's device."""
        import torch

        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        return (x.float() / 255.0 - mean) / std


# ----------------------------------------------------------------------------- registry

DATASETS: dict[str, str] = {}
_LOADERS: dict[str, Callable[[Path, bool, Progress | None], ImageDataset]] = {}
_AVAILABLE: dict[str, Callable[[Path], bool]] = {}  # key -> available(data_dir), for plugins that download
_CACHE: dict[tuple[str, str], ImageDataset] = {}
_CACHE_LOCK = threading.Lock()


def register_dataset(key: str, label: str, loader: Callable[[Path, bool, Progress | None], ImageDataset],
                     available: Callable[[Path], bool] | None = None) -> None:
    """Add a dataset: ``loader(data_dir, download, progress) -> ImageDataset``; ``available(data_dir)``
    says whether it loads without a download (default: always)."""
    DATASETS[key] = label
    _LOADERS[key] = loader
    if available is not None:
        _AVAILABLE[key] = available


def data_dir() -> Path:
    """The data folder: $NEURAL_LENS_DATA, else ./data."""
    return Path(os.environ.get("NEURAL_LENS_DATA") or "data")


def clear_cache() -> None:
    """Forget every dataset loaded in this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


def load_dataset(
    name: str, data_dir: Path | str | None = None, *, download: bool = True, progress: Progress | None = None
) -> ImageDataset:
    """Load (and cache per process) a registered dataset by key."""
    if name not in _LOADERS:
        raise KeyError(f"unknown dataset {name!r}; choose one of {sorted(_LOADERS)}")
    root = Path(data_dir) if data_dir is not None else globals()["data_dir"]()
    key = (name, str(root.resolve()))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        if progress:
            progress(1.0, "loaded")
        return cached
    ds = _LOADERS[name](root, download, progress)
    with _CACHE_LOCK:
        ds = _CACHE.setdefault(key, ds)
    return ds


# ----------------------------------------------------------------------------- MNIST family


@dataclass(frozen=True)
class _IdxSource:
    folder: str  # torchvision's class name = folder name under the data dir
    label: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # (file name .gz, md5)


def _torchvision_source(cls_name: str, label: str) -> _IdxSource:
    from torchvision import datasets as tvd

    cls = getattr(tvd, cls_name)
    if cls_name == "MNIST":
        classes = tuple(str(d) for d in range(10))
    else:
        classes = tuple(c.replace("T-shirt/top", "T-shirt") for c in cls.classes)
    return _IdxSource(cls_name, label, classes, tuple(cls.mirrors), tuple(tuple(r) for r in cls.resources))


_SOURCES: dict[str, tuple[str, str]] = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("FashionMNIST", "Fashion-MNIST")}


def dataset_files(name: str) -> list[str]:
    """The raw files a torchvision-layout dataset needs (``.gz`` or unpacked), e.g. for help text."""
    if name not in _SOURCES:
        return []
    return [res[0] for res in _torchvision_source(*_SOURCES[name]).resources]


def _raw_folder(root: Path, src: _IdxSource) -> Path:
    return root / src.folder / "raw"


def _unpacked_present(raw: Path, src: _IdxSource) -> bool:
    return all((raw / Path(f).stem).is_file() for f, _ in src.resources)


def _gunzip_missing(raw: Path, src: _IdxSource) -> None:
    """Unpack ``x.gz`` into ``x`` where only the archive is present (torchvision reads ``x``)."""
    for f, _ in src.resources:
        target, archive = raw / Path(f).stem, raw / f
        if not target.is_file() and archive.is_file():
            tmp = target.with_suffix(".part")
            try:
                with gzip.open(archive, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                tmp.replace(target)
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                tmp.unlink(missing_ok=True)
                raise DatasetUnavailable(f"{archive} is not a valid gzip file ({exc}). Delete it and try again.") from exc
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise DatasetUnavailable(
                    f"{archive} could not be unpacked next to itself ({exc}). Is the folder {raw} writable?"
                ) from exc


def _unavailable_message(name: str, root: Path, src: _IdxSource, reason: str) -> str:
    files = ", ".join(f for f, _ in src.resources)
    return (
        f"{src.label} is not on this machine and could not be downloaded ({reason}). "
        f"Put the files {files} (or the same names without .gz) in the folder "
        f"{_raw_folder(root, src).resolve()}, or on a machine with internet run "
        f"`{PREFETCH_COMMAND}` and copy its data folder here (set NEURAL_LENS_DATA to point at it). "
        "Meanwhile the offline 'Synthetic digits' set always works."
    )


def _download_file(url: str, dest: Path, md5: str | None, progress: Callable[[int, int], None]) -> None:
    """Stream url to dest with a socket timeout; check md5; raise OSError/ValueError on failure."""
    req = urllib.request.Request(url, headers={"User-Agent": "neural-lens"})
    tmp = dest.with_suffix(dest.suffix + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(done, total)
        if md5 and digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url}")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def _download(name: str, root: Path, src: _IdxSource, progress: Progress | None) -> None:
    raw = _raw_folder(root, src)
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetUnavailable(_unavailable_message(name, root, src, f"cannot create the folder: {exc}")) from exc
    n = len(src.resources)
    for i, (fname, md5) in enumerate(src.resources):
        if (raw / Path(fname).stem).is_file() or (raw / fname).is_file():
            continue
        errors: list[str] = []
        for mirror in src.mirrors:

            def report(done: int, total: int, i: int = i, fname: str = fname) -> None:
                if progress:
                    frac = done / total if total else 0.0
                    progress(0.9 * (i + frac) / n, f"downloading {fname} ({done / 1e6:.1f} MB)")

            try:
                _download_file(mirror + fname, raw / fname, md5, report)
                break
            except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections are OSErrors
                errors.append(f"{mirror}: {getattr(exc, 'reason', exc)}")
        else:
            raise DatasetUnavailable(_unavailable_message(name, root, src, "; ".join(errors) or "no mirror"))


def _load_idx_dataset(name: str, root: Path, download: bool, progress: Progress | None) -> ImageDataset:
    import torch
    from torchvision import datasets as tvd

    src = _torchvision_source(*_SOURCES[name])
    raw = _raw_folder(root, src)
    _gunzip_missing(raw, src)
    if not _unpacked_present(raw, src):
        if not download:
            raise DatasetUnavailable(_unavailable_message(name, root, src, "downloads are switched off"))
        _download(name, root, src, progress)
        _gunzip_missing(raw, src)
    if progress:
        progress(0.92, f"decoding {src.label}")
    cls = getattr(tvd, src.folder)
    try:
        train = cls(str(root), train=True, download=False)
        test = cls(str(root), train=False, download=False)
    except (RuntimeError, ValueError, OSError, AssertionError) as exc:
        raise DatasetUnavailable(
            f"The {src.label} files in {raw.resolve()} could not be read ({exc}). Delete them and download again."
        ) from exc
    train_x = train.data.to(torch.uint8).unsqueeze(1).contiguous()  # (N, 1, 28, 28)
    test_x = test.data.to(torch.uint8).unsqueeze(1).contiguous()
    mean, std = _channel_stats(train_x)
    if progress:
        progress(1.0, "loaded")
    return ImageDataset(
        name=name,
        classes=src.classes,
        train_x=train_x,
        train_y=train.targets.to(torch.int64).contiguous(),
        test_x=test_x,
        test_y=test.targets.to(torch.int64).contiguous(),
        synthetic=False,
        mean=mean,
        std=std,
        label=src.label,
    )


def write_idx_dataset(
    root: Path | str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    folder: str = "MNIST",
    gz: bool = True,
) -> Path:
    """Write uint8 images (N, 28, 28) and labels (N,) as idx files in torchvision's layout -> the raw folder."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": _idx_bytes(train_x, 3),
        "train-labels-idx1-ubyte": _idx_bytes(train_y, 1),
        "t10k-images-idx3-ubyte": _idx_bytes(test_x, 3),
        "t10k-labels-idx1-ubyte": _idx_bytes(test_y, 1),
    }
    for fname, data in files.items():
        if gz:
            with gzip.open(raw / (fname + ".gz"), "wb", compresslevel=1) as f:
                f.write(data)
        else:
            (raw / fname).write_bytes(data)
    return raw


def _idx_bytes(a: np.ndarray, ndim: int) -> bytes:
    """uint8 array -> idx bytes: magic (0, 0, 0x08 = ubyte, ndim), big-endian int32 sizes, then the data."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    if a.ndim != ndim:
        raise ValueError(f"expected {ndim} dimensions, got {a.shape}")
    header = bytes([0, 0, 0x08, ndim]) + np.asarray(a.shape, dtype=">i4").tobytes()
    return header + a.tobytes()


def is_available(name: str, data_dir: Path | str | None = None) -> bool:
    """True when the dataset can be loaded without a download."""
    root = Path(data_dir) if data_dir is not None else globals()["data_dir"]()
    if name not in _SOURCES:
        return name in _LOADERS and _AVAILABLE.get(name, lambda _root: True)(root)
    src = _torchvision_source(*_SOURCES[name])
    raw = _raw_folder(root, src)
    return all((raw / Path(f).stem).is_file() or (raw / f).is_file() for f, _ in src.resources)


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """uint8 (N, C, H, W) -> per-channel mean and std on the 0..1 scale."""
    import torch

    c = x.shape[1]
    flat = x.transpose(0, 1).reshape(c, -1)
    step = max(1, flat.shape[1] // 5_000_000)  # a strided sample is plenty for two numbers
    sample = flat[:, ::step].to(torch.float64) / 255.0
    mean = tuple(float(v) for v in sample.mean(dim=1))
    std = tuple(max(float(v), 1e-3) for v in sample.std(dim=1))
    return mean, std


# ----------------------------------------------------------------------------- synthetic digits

_SPREAD: torch.Tensor | None = None
_SYNTH_CACHE: dict[tuple[int, int, int], ImageDataset] = {}
_SYNTH_LOCK = threading.Lock()
_HI = 56  # templates and warps are drawn at twice MNIST's resolution, then averaged down (anti-aliasing)


def _spread_matrix(n: int = _HI, k: int = 5, width: float = 0.12) -> torch.Tensor:
    """(n, k) normalised Gaussian weights that spread k control values smoothly over n pixels."""
    import torch

    pix = torch.linspace(0, 1, n).view(n, 1)
    ctrl = torch.linspace(0, 1, k).view(1, k)
    w = torch.exp(-((pix - ctrl) ** 2) / (2 * width**2))
    return w / w.sum(1, keepdim=True)


def _digit_templates() -> tuple[torch.Tensor, torch.Tensor]:
    """Glyphs of 0-9 from Pillow's bundled font in several sizes and stroke widths -> (T, 56, 56) float, (T,) labels."""
    import torch
    from PIL import Image, ImageDraw, ImageFont

    images, labels = [], []
    for size in (40, 48, 56):
        font = ImageFont.load_default(size=size)
        for stroke in (0, 1, 2) if size < 56 else (0, 1, 2, 3):  # thick strokes only on big glyphs
            for digit in range(10):
                canvas = Image.new("L", (120, 120), 0)
                ImageDraw.Draw(canvas).text((30, 20), str(digit), fill=255, font=font, stroke_width=stroke, stroke_fill=255)
                box = canvas.getbbox()
                glyph = canvas.crop(box)
                # like MNIST: fit the ink into a 40x40 box (20x20 at 28x28), keep the aspect ratio
                scale = 40.0 / max(glyph.size)
                w, h = max(1, round(glyph.size[0] * scale)), max(1, round(glyph.size[1] * scale))
                glyph = np.asarray(glyph.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
                out = np.zeros((_HI, _HI), np.float32)
                # centre by centre of mass, like MNIST
                ys, xs = np.indices(glyph.shape)
                cy, cx = (glyph * ys).sum() / glyph.sum(), (glyph * xs).sum() / glyph.sum()
                top = round(float(_HI / 2 - cy))
                left = round(float(_HI / 2 - cx))
                top, left = min(max(top, 0), _HI - h), min(max(left, 0), _HI - w)
                out[top : top + h, left : left + w] = glyph
                images.append(out)
                labels.append(digit)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def _render_digits(templates: torch.Tensor, tlabels: torch.Tensor, n: int, gen: torch.Generator) -> tuple:
    """Draw n warped digits from the templates -> uint8 (n, 1, 28, 28), int64 (n,). Vectorised in chunks."""
    import math

    import torch
    import torch.nn.functional as F

    global _SPREAD
    if _SPREAD is None:
        _SPREAD = _spread_matrix()
    by_digit = [torch.nonzero(tlabels == d).flatten() for d in range(10)]
    labels = torch.arange(n) % 10
    labels = labels[torch.randperm(n, generator=gen)]
    per_digit = len(by_digit[0])
    choice = torch.randint(0, per_digit, (n,), generator=gen)
    tidx = torch.stack(by_digit)[labels, choice]  # (n,)

    out = torch.empty((n, 1, 28, 28), dtype=torch.uint8)
    chunk = 4096
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        b = e - s

        def u(lo: float, hi: float, b: int = b) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(b, generator=gen)

        angle = u(-15, 15) * math.pi / 180
        scale = u(0.8, 1.15)
        aspect = u(0.85, 1.15)
        shear = u(-0.3, 0.3)
        tx, ty = u(-0.1, 0.1), u(-0.1, 0.1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        sx, sy = scale * aspect, scale / aspect
        # grid maps output coords to template coords: the inverse of rotate . shear . scale
        a = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (b, 2, 2) rotation
        sh = torch.zeros(b, 2, 2)
        sh[:, 0, 0], sh[:, 0, 1], sh[:, 1, 1] = 1.0, shear, 1.0
        sc = torch.zeros(b, 2, 2)
        sc[:, 0, 0], sc[:, 1, 1] = sx, sy
        forward = a @ sh @ sc
        inv = torch.linalg.inv(forward)
        shift = -(inv @ torch.stack([tx, ty], 1).unsqueeze(2)).squeeze(2)  # (b, 2)
        # the sampling grid of affine_grid (align_corners=False), written out: cheaper than its batched matmul
        xs = ((torch.arange(_HI, dtype=torch.float32) * 2 + 1) / _HI - 1).view(1, 1, _HI)
        ys = xs.view(1, _HI, 1)
        a = inv.reshape(b, 4, 1, 1)
        gx = a[:, 0] * xs + a[:, 1] * ys + shift[:, 0].view(b, 1, 1)  # (b, 56, 56)
        gy = a[:, 2] * xs + a[:, 3] * ys + shift[:, 1].view(b, 1, 1)
        # elastic distortion: a smooth random displacement field, 5x5 random values spread by Gaussian weights
        alpha = u(0.0, 0.14).view(b, 1, 1)  # the spread averages the control values: ~half their size
        disp = torch.randn(b, 2, 5, 5, generator=gen)
        disp = torch.einsum("ik,bckl,jl->bcij", _SPREAD, disp, _SPREAD)  # (b, 2, 56, 56)
        grid = torch.stack([gx + alpha * disp[:, 0], gy + alpha * disp[:, 1]], 3)  # (b, 56, 56, 2)
        src = templates[tidx[s:e]].unsqueeze(1)  # (b, 1, 56, 56)
        img = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        img = F.avg_pool2d(img, 2)  # (b, 1, 28, 28)
        # ink intensity, a little blur-like gain and pixel noise
        gain = u(0.75, 1.3).view(b, 1, 1, 1)
        img = (img * gain).clamp(0, 1)
        sigma = u(0.0, 0.12).view(b, 1, 1, 1)
        img = img + sigma * torch.randn(img.shape, generator=gen).abs() * (torch.rand(img.shape, generator=gen) < 0.15)
        out[s:e] = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    return out, labels


def synthetic_digits(n_train: int = 20000, n_test: int = 4000, seed: int = 0) -> ImageDataset:
    """Deterministic drawn digits (offline) -> ImageDataset with uint8 (N, 1, 28, 28) images. Cached per process."""
    import torch

    key = (n_train, n_test, seed)
    with _SYNTH_LOCK:
        if key in _SYNTH_CACHE:
            return _SYNTH_CACHE[key]
        templates, tlabels = _digit_templates()
        gen = torch.Generator().manual_seed(seed)
        train_x, train_y = _render_digits(templates, tlabels, n_train, gen)
        gen_test = torch.Generator().manual_seed(seed + 1_000_003)  # a separate stream: test never equals train
        test_x, test_y = _render_digits(templates, tlabels, n_test, gen_test)
        mean, std = _channel_stats(train_x)
        ds = ImageDataset(
            name="synthetic-digits",
            classes=tuple(str(d) for d in range(10)),
            train_x=train_x,
            train_y=train_y,
            test_x=test_x,
            test_y=test_y,
            synthetic=True,
            mean=mean,
            std=std,
            label="Synthetic digits (offline)",
        )
        _SYNTH_CACHE[key] = ds
        return ds


SYNTHETIC_VERSION = 2  # bump when the drawing changes: the disk cache is keyed by it
SYNTHETIC_DEFAULT = (20000, 4000, 0)  # (n_train, n_test, seed) of the registered "synthetic-digits"


def _read_synthetic_cache(cache: Path, n_train: int, n_test: int) -> ImageDataset | None:
    """The synthetic set saved by an earlier run, or None when absent or unreadable (then it is redrawn)."""
    import torch

    try:
        t = torch.load(cache, map_location="cpu", weights_only=True)
        ds = ImageDataset(
            name="synthetic-digits", classes=tuple(str(d) for d in range(10)),
            train_x=t["train_x"], train_y=t["train_y"], test_x=t["test_x"], test_y=t["test_y"], synthetic=True,
            mean=tuple(float(v) for v in t["mean"]), std=tuple(float(v) for v in t["std"]),
            label="Synthetic digits (offline)",
        )
    except Exception:  # noqa: BLE001 - any unreadable cache (missing, truncated, garbage, old format) is redrawn
        return None
    ok = ds.train_x.shape == (n_train, 1, 28, 28) and ds.train_x.dtype == torch.uint8 and len(ds.test_y) == n_test
    return ds if ok else None


def _load_synthetic(root: Path, download: bool, progress: Progress | None) -> ImageDataset:
    """The default synthetic set, from <data>/cache/ when drawn before (best effort), else drawn and cached."""
    import torch

    n_train, n_test, seed = SYNTHETIC_DEFAULT
    cache = root / "cache" / f"synthetic-digits-v{SYNTHETIC_VERSION}-{n_train}-{n_test}-{seed}.pt"
    ds = _read_synthetic_cache(cache, n_train, n_test)
    if ds is None:
        if progress:
            progress(0.1, "drawing synthetic digits")
        ds = synthetic_digits(n_train, n_test, seed)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".part")
            torch.save({"train_x": ds.train_x, "train_y": ds.train_y, "test_x": ds.test_x, "test_y": ds.test_y,
                        "mean": torch.tensor(ds.mean), "std": torch.tensor(ds.std)}, tmp)
            tmp.replace(cache)
        except OSError:
            pass  # a read-only data folder only costs a few seconds next time
    if progress:
        progress(1.0, "loaded")
    return ds


register_dataset("synthetic-digits", "Synthetic digits (offline)", _load_synthetic)
register_dataset("mnist", "MNIST", lambda root, dl, pr: _load_idx_dataset("mnist", root, dl, pr))
register_dataset("fashion-mnist", "Fashion-MNIST", lambda root, dl, pr: _load_idx_dataset("fashion-mnist", root, dl, pr))


# Cats vs dogs registers its datasets here. Imported last: it imports this module's registry.
import explainers.training.data.pets  # noqa: E402, F401

# ----------------------------------------------------------------------------- CLI


def download_cli(
    argv: list[str] | None,
    *,
    prog: str,
    description: str,
    names: list[str],
    extras: dict[str, Callable[[Progress], str]] | None = None,
    errors: tuple[type[BaseException], ...] = (DatasetUnavailable,),
) -> int:
    """The ``download NAME...`` command: datasets via load_dataset, ``extras`` (name -> fetch(progress)) for
    anything else such as model weights. Exit status 1 when any of them failed with one of ``errors``."""
    extras = extras or {}
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download", help="download into the data folder" + (" / torch's cache" if extras else ""))
    dl.add_argument("names", nargs="+", choices=[*names, *extras])
    dl.add_argument("--data-dir", default=None, help="default: $NEURAL_LENS_DATA or ./data")
    args = parser.parse_args(argv)
    root = Path(args.data_dir) if args.data_dir else data_dir()
    status = 0
    for name in args.names:

        def progress(frac: float, msg: str, name: str = name) -> None:
            print(f"\r{name}: {frac:5.0%} {msg:<60}", end="", file=sys.stderr, flush=True)

        try:
            if name in extras:
                print(f"\n{name}: {extras[name](progress)}", file=sys.stderr)
            else:
                ds = load_dataset(name, root, download=True, progress=progress)
                print(f"\n{name}: {len(ds.train_y)} train / {len(ds.test_y)} test images in {root.resolve()}",
                      file=sys.stderr)
        except errors as exc:
            print(f"\n{name}: {exc}", file=sys.stderr)
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    """``download NAME...``: pre-fetch datasets into the data folder for a classroom without internet."""
    return download_cli(argv, prog="python -m explainers.training.data.datasets", description=main.__doc__, names=sorted(_SOURCES))


if __name__ == "__main__":
    sys.exit(main())
