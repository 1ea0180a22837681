"""The torch training engine: a config value, one fit loop with callbacks, the threaded run, the LR finder,
evaluation, inspection and weights; data sources live in explainers.training.data.

Modules: config (TrainConfig and the choices), loop (fit), callbacks, run (TrainRun, the run gate),
lr_find, evaluation, inspect, gradcam, weights, augment, batches, build, runtime, cli.
"""

from explainers.training.config import (
    DEVICES,
    OPTIMIZERS,
    SCHEDULERS,
    STATUSES,
    TrainConfig,
)
from explainers.training.evaluation import EvalResult, evaluate
from explainers.training.inspect import feature_maps, predict
from explainers.training.loop import (
    Callback,
    CancelFit,
    Diverged,
    EarlyStop,
    FitState,
    Stopped,
    fit,
)
from explainers.training.lr_find import LRFinderResult, lr_find
from explainers.training.run import (
    RunSnapshot,
    ServerBusy,
    TrainRun,
    active_runs,
    max_concurrent_runs,
    release_memory,
    server_slot,
    set_max_concurrent_runs,
    stop_all_runs,
)
from explainers.training.runtime import (
    configure_threads,
    resolve_device,
    seed_everything,
)
from explainers.training.weights import load_weights, save_weights

__all__ = [
    "DEVICES", "OPTIMIZERS", "SCHEDULERS", "STATUSES", "Callback", "CancelFit", "Diverged", "EarlyStop",
    "EvalResult", "FitState", "LRFinderResult", "RunSnapshot", "Stopped", "TrainConfig", "TrainRun",
    "active_runs", "configure_threads", "evaluate", "feature_maps", "fit", "load_weights", "lr_find",
    "max_concurrent_runs", "predict", "resolve_device", "save_weights", "seed_everything",
    "set_max_concurrent_runs", "stop_all_runs",
    "ServerBusy", "release_memory", "server_slot",
]
