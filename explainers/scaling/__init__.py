"""Scaling out: data parallel (DDP), model parallel and pipelining, run for real with torch.distributed.

The launcher and the results import no torch (the page holds them); the workers
(``explainers.scaling.worker`` / ``parts``) do the torch work in their own processes.
"""

from explainers.scaling.launch import (
    Job,
    JobSnapshot,
    JobTimeout,
    Machine,
    PortInUse,
    ScalingError,
    WorkerCrashed,
    WorldSizeError,
    check_port,
    check_world_size,
    free_port,
    live_jobs,
    machine,
    run,
    start,
    stop_all_jobs,
)
from explainers.scaling.plans import (
    MODEL_LABELS,
    SWEEP,
    DataParallelPlan,
    DataParallelResult,
    Message,
    ModelParallelPlan,
    ModelParallelResult,
    PipelinePlan,
    PipelineResult,
    PipelineRun,
    Plan,
    Result,
    Timing,
)
from explainers.scaling.ring import RingFrame, RingTrace, ring_allreduce
from explainers.scaling.schedule import (
    Slot,
    bubble_fraction,
    gpipe_schedule,
    idle_fraction,
)

__all__ = [
    "MODEL_LABELS", "SWEEP", "DataParallelPlan", "DataParallelResult", "Job", "JobSnapshot", "JobTimeout",
    "Machine", "Message", "ModelParallelPlan", "ModelParallelResult", "PipelinePlan", "PipelineResult",
    "PipelineRun", "Plan", "PortInUse", "Result", "RingFrame", "RingTrace", "ScalingError", "Slot", "Timing", "WorkerCrashed",
    "WorldSizeError", "bubble_fraction", "check_port", "check_world_size", "free_port", "gpipe_schedule",
    "idle_fraction", "live_jobs", "machine", "ring_allreduce", "run", "start", "stop_all_jobs",
]
