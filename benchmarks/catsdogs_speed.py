"""Training speed of the cats-vs-dogs models: images per second at 64 and 128 px.

    python -m benchmarks.catsdogs_speed [--sizes 64,128] [--models catsdogs_cnn,resnet18_frozen,resnet18_transfer]
                                        [--device auto] [--steps 10] [--batch 64] [--json PATH]

Each model trains (Adam, cross-entropy, batch 64 by default) on drawn cats and dogs decoded once to
uint8, through the engine's own batches and fit loop (index, float, flip + crop augmentation,
normalise, channels-last on a CPU, forward, backward, step). ResNet-18 uses random weights here: speed does not depend on
their values, and the benchmark must run offline. Two warm-up steps are not timed. On CPU and, when a
GPU is present, on CUDA (``--device all``). benchmarks/trainer_speed.py calls ``run`` for its
``--catsdogs`` report.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

MODELS = ("catsdogs_cnn", "resnet18_frozen", "resnet18_transfer")


class _StepTimer:
    """A fit-loop callback: starts the clock after ``warmup`` steps, ends the fit after ``steps`` more."""

    order = 100

    def __init__(self, warmup: int, steps: int, device: str) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.t0 = self.seconds = 0.0

    def _sync(self) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()

    def after_batch(self, state) -> None:
        from explainers.training.loop import CancelFit

        if state.step == self.warmup:
            self._sync()
            self.t0 = time.perf_counter()
        elif state.step == self.warmup + self.steps:
            self._sync()
            self.seconds = time.perf_counter() - self.t0
            raise CancelFit("timed")


def images_per_second(model_name: str, size: int, device: str, steps: int = 10, batch: int = 64,
                      seed: int = 0) -> float:
    """Training images per second of one model at one picture size (after two warm-up steps), through
    the engine's own batches (uint8 -> float, flip + crop, normalise) and fit loop."""
    import functools
    import math

    import torch
    import torch.nn.functional as F

    import models.registry as cd
    from explainers.training.augment import augmenter
    from explainers.training.batches import Batches
    from explainers.training.data import catsdogs
    from explainers.training.loop import FitState, fit
    from models import MODELS as SPECS

    ds = catsdogs.synthetic_pets(n_train=batch * 4, n_test=8, size=size, seed=seed)
    torch.manual_seed(seed)
    if model_name.startswith("resnet"):
        build = functools.partial(cd.build_resnet18_transfer, pretrained=False,
                                  freeze_backbone=model_name == "resnet18_frozen")
        model = build(3, size, 2, 0.0)
    else:
        model = SPECS[model_name].build(3, size, 2, None)
    channels_last = device == "cpu"  # as the engine trains conv nets on a CPU
    model = model.to(device, memory_format=torch.channels_last) if channels_last else model.to(device)
    batches = Batches(ds, torch.arange(len(ds.train_y)), batch, device, generator=torch.Generator().manual_seed(seed),
                      augment=augmenter(True, ("flip", "crop")), channels_last=channels_last)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    timer = _StepTimer(2, steps, device)
    fit(FitState(model=model, opt=opt, batches=batches, epochs=math.ceil((steps + 2) / batches.per_epoch),
                 loss_fn=F.cross_entropy), [timer])
    return steps * batch / timer.seconds


def devices(choice: str) -> list[str]:
    import torch

    if choice == "all":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if choice == "auto":
        return ["cuda" if torch.cuda.is_available() else "cpu"]
    return [choice]


def run(sizes=(64, 128), models=MODELS, device: str = "all", steps: int = 10, batch: int = 64) -> list[dict]:
    """One row per (device, model, size): images per second."""
    import torch

    rows = []
    for dev in devices(device):
        for name in models:
            for size in sizes:
                ips = images_per_second(name, size, dev, steps=steps, batch=batch)
                gpu = torch.cuda.get_device_name() if dev == "cuda" else platform.processor() or platform.machine()
                rows.append({"device": dev, "hardware": gpu, "threads": torch.get_num_threads(), "model": name,
                             "size": size, "batch": batch, "images_per_second": round(ips, 1)})
                print(f"{dev:4} {name:18} {size:3} px: {ips:8.1f} images/s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.catsdogs_speed", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="64,128")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--device", default="all", help="all (cpu, and cuda if present), auto, cpu or cuda")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--json", default=None, help="also write the rows here")
    a = p.parse_args(argv)
    rows = run(tuple(int(s) for s in a.sizes.split(",")), tuple(a.models.split(",")), a.device, a.steps, a.batch)
    print("| device | model | px | images/s |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['device']} ({r['hardware']}) | {r['model']} | {r['size']} | {r['images_per_second']:,.0f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
