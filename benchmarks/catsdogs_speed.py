"""Training speed of the cats-vs-dogs models: images per second at 64 and 128 px.

    python -m benchmarks.catsdogs_speed [--sizes 64,128] [--models catsdogs_cnn,resnet18_frozen,resnet18_transfer]
                                        [--device auto] [--steps 10] [--batch 64] [--json PATH]

Each model trains (Adam, cross-entropy, batch 64 by default) on drawn cats and dogs decoded once to
uint8, exactly as explainers.training feeds batches (index, float, normalise, flip + crop
augmentation, forward, backward, step). ResNet-18 uses random weights here: speed does not depend on
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


def images_per_second(model_name: str, size: int, device: str, steps: int = 10, batch: int = 64,
                      seed: int = 0) -> float:
    """Training images per second of one model at one picture size (after two warm-up steps)."""
    import functools

    import torch
    import torch.nn.functional as F

    import models.catsdogs as cd
    from explainers.training.augment import augment_named
    from explainers.training.data import pets
    from models import MODELS as SPECS

    ds = pets.synthetic_pets(n_train=batch * 4, n_test=8, size=size, seed=seed)
    spec = SPECS[model_name]
    torch.manual_seed(seed)
    if model_name.startswith("resnet"):
        build = functools.partial(cd.build_resnet18_transfer, pretrained=False,
                                  freeze_backbone=model_name == "resnet18_frozen")
        model = build(3, size, 2, 0.0)
    else:
        model = spec.build(3, size, 2, None)
    model = model.to(device).train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x_all, y_all = ds.train_x.to(device), ds.train_y.to(device)
    mean = torch.tensor(ds.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(ds.std, device=device).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(seed)

    def step(i: int) -> None:
        idx = torch.arange(i * batch, (i + 1) * batch, device=device) % len(y_all)
        xb = augment_named(x_all[idx].float(), ("flip", "crop"), gen)
        xb = (xb / 255.0 - mean) / std
        loss = F.cross_entropy(model(xb), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(2):
        step(i)
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


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
