"""The "PyTorch equivalent" scripts of the Scaling out page: complete, runnable, filled in with the settings.

Each runs as ``python script.py`` on a CPU-only laptop (gloo, or CPU "devices") and on GPUs
(NCCL, cuda:0 / cuda:1) unchanged.
"""

from __future__ import annotations

_MODELS = {
    "mlp": "nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),\n"
           "                         nn.Linear(64, 10))",
    "cnn": "nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),\n"
           "                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),\n"
           "                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))",
}

_SPAWN_HELPERS = '''

def free_port():
    """A port nobody listens on: bind port 0 and let the OS choose."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
'''


def ddp_script(world_size: int, batch_per_rank: int, steps: int, lr: float, model: str = "mlp") -> str:
    """A DistributedDataParallel training script started with torch.multiprocessing.spawn."""
    return f'''"""Data parallel: {world_size} processes, each a replica of the model, {batch_per_rank} images each per step."""
import datetime
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

WORLD_SIZE = {world_size}
BATCH_PER_RANK = {batch_per_rank}  # the global batch is WORLD_SIZE * BATCH_PER_RANK
STEPS = {steps}
LR = {lr:g}


def make_model():
    torch.manual_seed(0)  # DDP also copies rank 0's weights to every rank when it wraps the model
    return {_MODELS.get(model, _MODELS["mlp"])}


def worker(rank, world_size, port):
    torch.set_num_threads(1)  # one core per process
    use_cuda = torch.cuda.device_count() >= world_size
    dist.init_process_group("nccl" if use_cuda else "gloo", init_method=f"tcp://127.0.0.1:{{port}}",
                            rank=rank, world_size=world_size, timeout=datetime.timedelta(seconds=60))
    device = torch.device(f"cuda:{{rank}}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)

    # Every rank opens the same data (a stand-in for MNIST); the sampler hands each rank its own slice.
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(WORLD_SIZE * BATCH_PER_RANK * STEPS, 1, 28, 28, generator=gen)
    labels = torch.randint(0, 10, (len(images),), generator=gen)
    dataset = TensorDataset(images, labels)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=BATCH_PER_RANK, sampler=sampler)

    model = DDP(make_model().to(device), device_ids=[rank] if use_cuda else None)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for step, (x, y) in enumerate(loader):
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()  # DDP averages the gradients across ranks here (all-reduce)
        opt.step()
        print(f"rank {{rank}} step {{step + 1}}: loss {{loss.item():.4f}}")

    # Same gradients, same update: every replica ends with the same weights.
    w = torch.cat([p.detach().flatten() for p in model.parameters()])
    everyone = [torch.zeros_like(w) for _ in range(world_size)]
    dist.all_gather(everyone, w)
    if rank == 0:
        print("largest weight difference between ranks:", max((v - w).abs().max().item() for v in everyone))
    dist.destroy_process_group()
{_SPAWN_HELPERS}

if __name__ == "__main__":
    mp.spawn(worker, args=(WORLD_SIZE, free_port()), nprocs=WORLD_SIZE, join=True)
'''


def toy_model_script(batch: int, lr: float) -> str:
    """The model-parallel tutorial's ToyModel on two devices (cuda:0 and cuda:1, or the CPU twice)."""
    return f'''"""Model parallel: the ToyModel split across two devices; the activation moves between them."""
import torch
import torch.nn as nn
import torch.optim as optim


class ToyModel(nn.Module):
    def __init__(self, dev0, dev1):
        super().__init__()
        self.dev0, self.dev1 = dev0, dev1
        self.net1 = nn.Linear(10, 10).to(dev0)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5).to(dev1)

    def forward(self, x):
        x = self.relu(self.net1(x.to(self.dev0)))
        return self.net2(x.to(self.dev1))  # the activation crosses to the second device here


# Two GPUs as in the tutorial; without them the same code runs with both halves on the CPU.
dev0, dev1 = ("cuda:0", "cuda:1") if torch.cuda.device_count() >= 2 else ("cpu", "cpu")
model = ToyModel(dev0, dev1)
loss_fn = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr={lr:g})

optimizer.zero_grad()
outputs = model(torch.randn({batch}, 10))
labels = torch.randn({batch}, 5).to(dev1)
loss = loss_fn(outputs, labels)
loss.backward()  # autograd sends the gradient back across the devices by itself
optimizer.step()
print(f"loss {{loss.item():.4f}}; net1 on {{model.net1.weight.device}}, net2 on {{model.net2.weight.device}}")
'''


def two_process_script(batch: int, lr: float) -> str:
    """The ToyModel split across two processes: send the activation, receive its gradient (what the page runs on CPUs)."""
    return f'''"""Model parallel without two GPUs: net1 in process 0, net2 in process 1, send/recv between them."""
import datetime
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

BATCH = {batch}


def worker(rank, port):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{{port}}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    torch.manual_seed(0)
    net1, net2 = nn.Linear(10, 10), nn.Linear(10, 5)  # both ranks draw the same weights, each keeps one half
    gen = torch.Generator().manual_seed(1)
    x, labels = torch.randn(BATCH, 10, generator=gen), torch.randn(BATCH, 5, generator=gen)
    if rank == 0:
        opt = torch.optim.SGD(net1.parameters(), lr={lr:g})
        h = torch.relu(net1(x))  # (BATCH, 10)
        dist.send(h.detach(), dst=1)  # forward: the activation goes to rank 1
        grad_h = torch.empty_like(h)
        dist.recv(grad_h, src=1)  # backward: dLoss/dh comes back
        h.backward(grad_h)  # and the backward pass carries on here
        opt.step()
        print(f"rank 0: sent {{h.numel() * h.element_size()}} bytes forward, got {{grad_h.shape}} back")
    else:
        opt = torch.optim.SGD(net2.parameters(), lr={lr:g})
        h = torch.empty(BATCH, 10)
        dist.recv(h, src=0)
        h.requires_grad_()
        loss = F.mse_loss(net2(h), labels)
        loss.backward()
        dist.send(h.grad, dst=0)
        opt.step()
        print(f"rank 1: loss {{loss.item():.4f}}")
    dist.destroy_process_group()
{_SPAWN_HELPERS}

if __name__ == "__main__":
    mp.spawn(worker, args=(free_port(),), nprocs=2, join=True)
'''


def pipeline_script(micro_batches: int, batch: int, width: int) -> str:
    """GPipe on two processes: all forwards of the micro-batches, then all backwards, timed per stage."""
    return f'''"""Pipelining (GPipe): a two-stage model on two processes, {micro_batches} micro-batches of {batch // max(1, micro_batches)}."""
import datetime
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

M, BATCH, WIDTH = {micro_batches}, {batch}, {width}


def worker(rank, port):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{{port}}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    torch.manual_seed(0)
    stage0 = nn.Sequential(nn.Flatten(), nn.Linear(784, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU())
    stage1 = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 10))
    stage = stage0 if rank == 0 else stage1
    stage(torch.zeros(BATCH // M, 784 if rank == 0 else WIDTH)).sum().backward()  # warm-up: first calls allocate
    stage.zero_grad()
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(BATCH, 1, 28, 28, generator=gen), torch.randint(0, 10, (BATCH,), generator=gen)
    xs, ys = x.chunk(M), y.chunk(M)
    busy, kept, sends = 0.0, [], []
    dist.barrier()
    t_start = time.perf_counter()
    for i in range(M):  # all forwards
        if rank == 0:
            t0 = time.perf_counter()
            h = stage(xs[i])
            busy += time.perf_counter() - t0
            sends.append(dist.isend(h.detach(), dst=1))  # stage 0 goes on with the next micro-batch
            kept.append(h)
        else:
            h = torch.empty(BATCH // M, WIDTH)
            dist.recv(h, src=0)
            h.requires_grad_()
            t0 = time.perf_counter()
            loss = F.cross_entropy(stage(h), ys[i]) / M
            busy += time.perf_counter() - t0
            kept.append((h, loss))
    for i in range(M):  # then all backwards
        if rank == 0:
            g = torch.empty(BATCH // M, WIDTH)
            dist.recv(g, src=1)
            t0 = time.perf_counter()
            kept[i].backward(g)
            busy += time.perf_counter() - t0
        else:
            h, loss = kept[i]
            t0 = time.perf_counter()
            loss.backward()
            busy += time.perf_counter() - t0
            sends.append(dist.isend(h.grad, dst=0))
    for s in sends:
        s.wait()
    total = time.perf_counter() - t_start
    print(f"stage {{rank}}: busy {{busy * 1e3:.1f}} ms of {{total * 1e3:.1f}} ms (idle {{1 - busy / total:.0%}}); "
          f"GPipe's bubble with equal stages: (S-1)/(M+S-1) = {{1 / (M + 1):.0%}}")
    dist.destroy_process_group()
{_SPAWN_HELPERS}

if __name__ == "__main__":
    mp.spawn(worker, args=(free_port(),), nprocs=2, join=True)
'''
