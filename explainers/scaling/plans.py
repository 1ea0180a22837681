"""What a scaling run does (plans) and what it found (results): frozen dataclasses, numpy only.

A plan is pickled to the workers; each rank returns a plain dict of numpy arrays and numbers;
``assemble(plan, per_rank)`` turns those into one result for the page. No torch here, so the
page can hold results without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explainers.scaling.schedule import Slot, idle_fraction, normalise, span

MODEL_LABELS = {"mlp": "MLP 784-64-64-10", "cnn": "CNN conv8-conv16-FC10"}  # keys of models.scaling.SCALING_MODELS
SWEEP = (1, 2, 4, 8)  # micro-batch counts every pipeline run also measures


@dataclass(frozen=True)
class DataParallelPlan:
    """N ranks, each a DDP replica training on its own slice of every batch."""

    world_size: int = 2  # processes (ranks)
    batch_per_rank: int = 16  # images per rank per step; the global batch is world_size * this
    steps: int = 10  # SGD steps
    lr: float = 0.5  # plain SGD, so one process with the global batch must land on the same weights
    model: str = "mlp"  # key of MODEL_LABELS
    seed: int = 0  # data, sampler shuffle and initial weights
    timing_repeats: int = 5  # repeats of each timed operation (the median is reported)
    kind: str = field(default="data_parallel", init=False)

    @property
    def ranks(self) -> int:
        return self.world_size

    def problems(self) -> list[str]:
        """Human-readable problems; empty when it can run."""
        out = []
        if self.world_size < 1:
            out.append("The world size must be at least 1.")
        if not 1 <= self.batch_per_rank <= 512:
            out.append("The batch per rank must be between 1 and 512.")
        if not 1 <= self.steps <= 100:
            out.append("Run between 1 and 100 steps.")
        if not (self.lr > 0 and np.isfinite(self.lr)):
            out.append("The learning rate must be a positive number.")
        if self.model not in MODEL_LABELS:
            out.append(f"Unknown model {self.model!r}; choose one of {', '.join(MODEL_LABELS)}.")
        if self.timing_repeats < 1:
            out.append("Time each operation at least once.")
        return out


@dataclass(frozen=True)
class ModelParallelPlan:
    """The tutorial's ToyModel, net1 on one device and net2 on another, one training step."""

    batch: int = 20  # the tutorial's batch: torch.randn(20, 10)
    lr: float = 0.001  # the tutorial's SGD learning rate
    seed: int = 0
    use_gpus: bool = False  # True: one process, cuda:0 and cuda:1 (chosen by the launcher when 2+ GPUs)
    kind: str = field(default="model_parallel", init=False)

    @property
    def ranks(self) -> int:
        return 1 if self.use_gpus else 2

    def problems(self) -> list[str]:
        return [] if 1 <= self.batch <= 4096 else ["The batch must be between 1 and 4096."]


@dataclass(frozen=True)
class PipelinePlan:
    """A wide digit MLP cut into two stages on two ranks; GPipe with M micro-batches."""

    micro_batches: int = 4  # M: the batch is cut into this many equal micro-batches
    batch: int = 256  # images per step, split into micro-batches
    width: int = 512  # hidden width: sets how much work each stage does per micro-batch
    seed: int = 0
    kind: str = field(default="pipeline", init=False)

    @property
    def ranks(self) -> int:
        return 2

    def problems(self) -> list[str]:
        out = []
        if not 1 <= self.micro_batches <= 32:
            out.append("Use between 1 and 32 micro-batches.")
        elif self.batch % self.micro_batches or any(self.batch % m for m in SWEEP):
            out.append(f"The batch ({self.batch}) must split evenly into {self.micro_batches} micro-batches "
                       f"(and into {', '.join(map(str, SWEEP))}).")
        if not 16 <= self.width <= 4096:
            out.append("The width must be between 16 and 4096.")
        return out


Plan = DataParallelPlan | ModelParallelPlan | PipelinePlan


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Timing:
    """Median seconds of the timed operations on one rank (NaN where not timed)."""

    compute_s: float  # forward + backward of one rank's batch, no communication (DDP no_sync)
    allreduce_s: float  # dist.all_reduce of a flat tensor as large as all gradients
    ddp_step_s: float  # a whole DDP step: forward, backward with overlapped all-reduce, optimizer step
    single_step_s: float  # one process, no DDP, the whole global batch (rank 0 only)


@dataclass(frozen=True)
class DataParallelResult:
    """One DDP run: per-rank gradients of step 1, losses of every step, checks and timings."""

    plan: DataParallelPlan
    backend: str
    device: str
    param_names: list[str]
    param_shapes: dict[str, tuple[int, ...]]
    local_grads: dict[str, np.ndarray]  # name -> (N, *shape) each rank's own gradient, step 1, before all-reduce
    reduced_grads: dict[str, np.ndarray]  # name -> (N, *shape) p.grad on each rank after DDP's all-reduce
    losses: np.ndarray  # (steps, N) each rank's loss on its own slice
    ranks_max_diff: float  # max |weights on rank r - weights on rank 0| after the last step
    reference_max_diff: float  # max |DDP weights - one process with batch N*B| after the last step
    reference_grad_max_diff: float  # the same for the step-1 gradient
    buckets: list[tuple[int, int]]  # DDP's gradient buckets: (tensors, bytes)
    timings: list[Timing]  # one per rank
    grad_bytes: int  # all gradients of one replica, in bytes
    labels: np.ndarray  # (N, B) labels of each rank's step-1 slice
    images: np.ndarray  # (N, b, 28, 28) uint8, the first few images of each rank's step-1 slice
    weights: np.ndarray  # (P,) rank 0's parameters after the last step, flattened in named_parameters order

    @property
    def world_size(self) -> int:
        return self.plan.world_size

    def flat_local(self, name: str) -> np.ndarray:
        """(N, K) the layer's local gradients, one flat row per rank."""
        g = self.local_grads[name]
        return g.reshape(g.shape[0], -1)


@dataclass(frozen=True)
class Message:
    """One tensor sent between devices in the model-parallel step."""

    what: str  # "activation" or "gradient"
    src: str
    dst: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    seconds: float  # measured: from the send call to its completion


@dataclass(frozen=True)
class ModelParallelResult:
    """One training step of the split ToyModel, and the same step on one device for comparison."""

    plan: ModelParallelPlan
    mode: str  # "two processes" or "two GPUs"
    placements: list[tuple[str, str, int]]  # (layer, where it lives, parameters)
    messages: list[Message]
    loss: float
    output: np.ndarray  # (B, 5)
    grads: dict[str, np.ndarray]  # parameter name -> gradient, each from the device that holds it
    reference_output: np.ndarray  # (B, 5) one device, same weights and input
    reference_loss: float
    reference_grads: dict[str, np.ndarray]
    compute_s: dict[str, float]  # where -> forward + backward seconds there

    @property
    def max_diff(self) -> float:
        """max |split - one device| over the output and every gradient."""
        diffs = [np.abs(self.output - self.reference_output).max(), abs(self.loss - self.reference_loss)]
        diffs += [np.abs(self.grads[k] - self.reference_grads[k]).max() for k in self.reference_grads]
        return float(max(diffs))


@dataclass(frozen=True)
class PipelineRun:
    """One measured GPipe step with M micro-batches."""

    micro_batches: int
    slots: list[Slot]  # measured, seconds from the first start
    span_s: float
    bubble: float  # measured idle share of the 2 x span rectangle


@dataclass(frozen=True)
class PipelineResult:
    """The chosen GPipe step measured on two ranks, a sweep over M, and the gradient check."""

    plan: PipelinePlan
    backend: str
    run: PipelineRun  # the plan's micro-batch count
    sweep: list[PipelineRun]  # SWEEP micro-batch counts
    activation_bytes: int  # one micro-batch's activation between the stages
    grad_max_diff: float  # max |accumulated micro-batch gradient - full-batch gradient| over both stages
    mean_forward_s: tuple[float, ...]  # per stage, one micro-batch
    mean_backward_s: tuple[float, ...]


Result = DataParallelResult | ModelParallelResult | PipelineResult


def _pipeline_run(m: int, per_rank: list[dict]) -> PipelineRun:
    slots = normalise([Slot(*e) for r in per_rank for e in r["events"][m]])
    return PipelineRun(m, slots, span(slots), idle_fraction(slots))


def assemble(plan: Plan, per_rank: list[dict], backend: str) -> Result:
    """Combine what each rank returned (a list ordered by rank) into one result."""
    if isinstance(plan, DataParallelPlan):
        r0 = per_rank[0]
        names = list(r0["param_names"])
        stack = lambda key: {n: np.stack([r[key][n] for r in per_rank]) for n in names}  # noqa: E731
        finals = np.stack([r["final_params"] for r in per_rank])
        return DataParallelResult(
            plan, backend, r0["device"], names, {n: tuple(r0["local_grads"][n].shape) for n in names},
            stack("local_grads"), stack("reduced_grads"), np.stack([r["losses"] for r in per_rank], axis=1),
            float(np.abs(finals - finals[0]).max()), float(r0["reference_max_diff"]),
            float(r0["reference_grad_max_diff"]), [tuple(b) for b in r0["buckets"]],
            [Timing(**r["timing"]) for r in per_rank], int(r0["grad_bytes"]),
            np.stack([r["labels"] for r in per_rank]), np.stack([r["images"] for r in per_rank]), finals[0])
    if isinstance(plan, ModelParallelPlan):
        grads = {k: v for r in per_rank for k, v in r["grads"].items()}
        last = per_rank[-1]
        r0 = per_rank[0]
        return ModelParallelResult(
            plan, r0["mode"], [p for r in per_rank for p in r["placements"]],
            [Message(**m) for r in per_rank for m in r["messages"]], float(last["loss"]), last["output"],
            grads, r0["reference_output"], float(r0["reference_loss"]), r0["reference_grads"],
            {k: v for r in per_rank for k, v in r["compute_s"].items()})
    if isinstance(plan, PipelinePlan):
        runs = {m: _pipeline_run(m, per_rank) for m in per_rank[0]["events"]}
        fwd = tuple(float(r["mean_forward_s"]) for r in per_rank)
        bwd = tuple(float(r["mean_backward_s"]) for r in per_rank)
        return PipelineResult(plan, backend, runs[plan.micro_batches], [runs[m] for m in SWEEP],
                              int(per_rank[0]["activation_bytes"]),
                              float(max(r["grad_max_diff"] for r in per_rank)), fwd, bwd)
    raise TypeError(f"unknown plan {plan!r}")
