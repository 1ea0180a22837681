"""Epoch time of the classic tutorial loop vs our trainer, same model, batch size and process.

    python -m benchmarks.trainer_speed [--n 60000] [--models mlp,small_cnn,bn_convnet] [--device auto]

Generates ``--n`` synthetic digits and writes them in MNIST's real on-disk format (idx, in
torchvision's layout) to a temporary folder. Then, per model:

- classic: ``torchvision.datasets.MNIST(root, transform=Compose([ToTensor(), Normalize(...)]))``,
  ``DataLoader(batch_size=64, shuffle=True)``, and the usual zero_grad/forward/backward/step loop
  (reading ``loss.item()`` every 10 batches, as the tutorial's logging does);
- ours: ``explainers.training.TrainRun`` on the same files loaded by ``load_dataset("mnist")``,
  with live history on (per-step loss, strip predictions and first-layer filters about once a
  second, histograms per epoch), no validation split so both see the same ``--n`` images.

Both use SGD + momentum (lr 0.01) and are warmed up first. Prints the epoch wall times and
ours/classic (lower is better; targets <= 0.5 for the MLP and the small CNN, <= 0.9 for the
BN ConvNet), and the process CPU time of each (steadier than wall time on a busy machine; ours
includes the test-set evaluation). ``--json PATH`` also writes the numbers. ``--threads N`` sets
torch's thread count. Runs on CUDA when a GPU is present. Our CPU runs use channels-last
convolutions (same model and maths, a faster memory layout); the classic loop uses the default.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"mlp": 0.5, "small_cnn": 0.5, "bn_convnet": 0.9}


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def classic_epoch(model_name: str, root: Path, device: str, batch_size: int, seed: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) for one epoch of the tutorial loop (DataLoader + per-sample transforms)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from models import build_model

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    torch.manual_seed(seed)
    model = build_model(model_name, 1, 28, 10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for i, (x, y) in enumerate(loader):  # warm-up: allocator, kernels
        step(x, y)
        if i == 5:
            break
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for i, (x, y) in enumerate(loader):
        loss = step(x, y)
        if i % 10 == 0:
            loss.item()
    _sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


def ours_epoch(model_name: str, root: Path, device: str, batch_size: int, seed: int) -> tuple[float, float, float]:
    """(wall seconds of the training epoch, with the test evaluation, process CPU seconds of it all) for TrainRun."""
    from explainers.training import TrainConfig, TrainRun
    from explainers.training.data import load_dataset

    ds = load_dataset("mnist", root, download=False)
    warm = TrainConfig(dataset="mnist", model=model_name, optimizer="sgd_momentum", lr=0.01, batch_size=batch_size,
                       epochs=1, subset=6 * batch_size, val_fraction=0.0, device=device, seed=seed)
    TrainRun(warm, ds).start().join()
    cfg = TrainConfig(dataset="mnist", model=model_name, optimizer="sgd_momentum", lr=0.01, batch_size=batch_size,
                      epochs=1, val_fraction=0.0, device=device, seed=seed)
    t0, c0 = time.perf_counter(), time.process_time()
    run = TrainRun(cfg, ds).start()
    run.join()
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    snap = run.snapshot()
    if snap.status != "finished":
        raise RuntimeError(f"our run ended {snap.status}: {snap.message}")
    return snap.epochs[0]["seconds"], total, cpu


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    import torch

    from explainers.training import configure_threads, resolve_device
    from explainers.training.data import synthetic_digits, write_idx_dataset

    p = argparse.ArgumentParser(prog="python -m benchmarks.trainer_speed", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=60000, help="training images (default 60000, like MNIST)")
    p.add_argument("--models", default="mlp,small_cnn,bn_convnet")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--catsdogs", action="store_true",
                   help="also time the cats-vs-dogs models at 64 and 128 px (benchmarks/catsdogs_speed.py)")
    a = p.parse_args(argv)
    threads = configure_threads(a.threads)
    device = resolve_device(a.device)
    names = [m.strip() for m in a.models.split(",") if m.strip()]
    print(f"# trainer_speed: n={a.n}, batch {a.batch_size}, device {device}, torch {torch.__version__}, "
          f"{threads} threads, {platform.processor() or platform.machine()}", file=sys.stderr)
    t0 = time.perf_counter()
    ds = synthetic_digits(a.n, 1000, seed=a.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nl-bench-") as tmp:
        root = Path(tmp)
        write_idx_dataset(root, ds.train_x[:, 0].numpy(), ds.train_y.numpy(), ds.test_x[:, 0].numpy(), ds.test_y.numpy(), gz=False)
        print(f"# generated and wrote {a.n} images in MNIST's idx format in {time.perf_counter() - t0:.1f}s",
              file=sys.stderr)
        for name in names:
            classic, classic_cpu = classic_epoch(name, root, device, a.batch_size, a.seed)
            ours, ours_total, ours_cpu = ours_epoch(name, root, device, a.batch_size, a.seed)
            row = {"model": name, "classic_s": classic, "ours_s": ours, "ours_with_test_eval_s": ours_total,
                   "ratio": ours / classic, "classic_cpu_s": classic_cpu, "ours_cpu_s_with_test_eval": ours_cpu,
                   "cpu_ratio": ours_cpu / classic_cpu, "target": TARGETS.get(name)}
            rows.append(row)
            ok = "" if row["target"] is None else ("  (meets target)" if row["ratio"] <= row["target"] else "  (misses target)")
            print(f"{name:12s} classic {classic:7.2f}s  ours {ours:7.2f}s  ratio {row['ratio']:.2f}"
                  f"  target <= {row['target']}{ok}   | CPU time: classic {classic_cpu:.2f}s, ours (with test eval) "
                  f"{ours_cpu:.2f}s, ratio {row['cpu_ratio']:.2f}", flush=True)
    if a.catsdogs:  # issue 7: training images/s of catsdogs_cnn and ResNet-18 (frozen / fine-tuned)
        from benchmarks import catsdogs_speed

        catsdogs_speed.main(["--device", "all" if a.device == "auto" else a.device])
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "batch_size": a.batch_size, "device": device, "threads": threads,
                                            "torch": torch.__version__, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
