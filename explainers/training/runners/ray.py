"""The Ray runner: each run is a Ray actor running the same TrainRun (the same fit loop) on a cluster node.

    NEURAL_LENS_RAY_ADDRESS=auto            # the Ray cluster this machine belongs to (`ray start --head`)
    NEURAL_LENS_RAY_ADDRESS=ray://head:10001   # a remote cluster through Ray Client

Each run asks Ray for $NEURAL_LENS_RAY_CPUS CPUs (default 1) and, when the cluster has GPUs and the
config allows one, one GPU: Ray starts the actor when a node has them free, so Ray is the queue.
The actor gets only the TrainConfig and loads the dataset by its key from the node's data folder
($NEURAL_LENS_RAY_DATA, else this machine's data folder as an absolute path, which fits a one-machine
cluster). The code travels with each actor (runtime_env py_modules: explainers and models); the
nodes need requirements.txt installed.

Stop sets the run's flag, checked before every batch; a worker that has not stopped after
KILL_AFTER_S seconds is ended with ray.kill. A worker that dies (killed, out of memory, node lost)
turns into a failed snapshot with a plain message; Ray frees its CPU/GPU for the next run. When the
handle is dropped (the Streamlit session ended) Ray ends the actor; when `owner` is collected first,
the run is stopped as a local run would be.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explainers.training.run import ServerBusy
from explainers.training.runners import Placement, RunnerUnavailable
from explainers.training.runners.worker import RunWorker, placeholder_snapshot

if TYPE_CHECKING:
    from torch import nn

    from explainers.training import RunSnapshot, TrainConfig
    from explainers.training.data import ImageDataset

KILL_AFTER_S = 10.0  # a stop not honoured within this long ends the worker
SNAPSHOT_TIMEOUT_S = 5.0  # a slow answer shows the last snapshot again rather than blocking the page
FINAL_TIMEOUT_S = 60.0
_IDS = itertools.count(1_000_001)  # apart from TrainRun's ids, which count from 1
_ROOT = Path(__file__).resolve().parents[3]


def _ray():
    try:
        import ray
    except ImportError:
        raise RunnerUnavailable(
            "NEURAL_LENS_RAY_ADDRESS is set but Ray is not installed here: pip install -r requirements-ray.txt, "
            "or unset NEURAL_LENS_RAY_ADDRESS to train on this machine."
        ) from None
    return ray


def _connected() -> bool:
    """Is this process still joined to a Ray cluster? Every call on an actor must ask first: after
    ray.shutdown() (or a lost connection) Ray's API starts a brand-new local cluster by itself, in
    whichever thread made the call (a garbage-collection finalizer, a script thread), and that cluster
    dies with the thread and takes this process down with it."""
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()


def _stop_actor(actor: Any) -> None:
    """The owner (a session) is gone: stop its run between batches (finalizer; never raises)."""
    if not _connected():
        return  # the cluster connection is gone, and the actors with it
    try:
        actor.stop.remote()
    except Exception:  # noqa: BLE001 - the cluster may be gone too
        pass


def _init_in_a_lasting_thread(ray: Any, options: dict) -> BaseException | None:
    """ray.init in a thread that lives as long as Ray is up; the exception if it failed.

    Processes Ray starts (a "local" cluster's GCS and raylet) are tied to the thread that started them
    (PR_SET_PDEATHSIG), and Streamlit runs each script run in a thread that ends with the run.
    """
    done, outcome = threading.Event(), {}

    def _driver() -> None:
        try:
            ray.init(**options)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which explains it in one line
            outcome["error"] = exc
            # A failed Ray Client connect leaves half a connection behind that refuses every later
            # ray.init (the cluster started after all, another address): drop it.
            try:
                ray.shutdown()
            except Exception:  # noqa: BLE001 - nothing more to clean
                pass
        finally:
            done.set()
        while "error" not in outcome and ray.is_initialized():
            time.sleep(1.0)

    threading.Thread(target=_driver, name="ray-driver", daemon=True).start()
    done.wait()
    return outcome.get("error")


class RayHandle:
    """One run on the cluster, read and controlled like a TrainRun."""

    def __init__(self, runner: RayRunner, config: TrainConfig, dataset: ImageDataset | None,
                 owner: object | None, num_gpus: float) -> None:
        self.id = next(_IDS)
        self.config, self.dataset = config, dataset
        self.error: str | None = None
        self._runner, self._owner, self._num_gpus = runner, owner, num_gpus
        self._lock = threading.Lock()
        self._actor: Any = None
        self._ready_ref: Any = None
        self._where: dict | None = None
        self._stop_asked: float | None = None
        self._final: RunSnapshot | None = None
        self._result: Any = None
        self._weights: bytes | None = None
        self._model: nn.Module | None = None
        waiting_for = "a GPU" if num_gpus else "a free CPU"
        self._last = placeholder_snapshot(config, "queued", f"Waiting for {waiting_for} on the Ray cluster.")

    # -- control

    def start(self) -> RayHandle:
        if self._actor is None:
            self._actor = self._runner._spawn(self.config, self._num_gpus)
            self._ready_ref = self._actor.where.remote()
            self._runner._enqueue(self)
            if self._owner is not None:
                weakref.finalize(self._owner, _stop_actor, self._actor)
                self._owner = None  # the finalizer is enough; keep no reference to the session
        return self

    def stop(self) -> None:
        """Ask the run to stop before its next batch; it is ended with ray.kill if it does not."""
        with self._lock:
            if self._stop_asked is None:
                self._stop_asked = time.monotonic()
        if self._actor is not None and self._final is None:
            _stop_actor(self._actor)

    def kill(self) -> None:
        """End the worker now (the last resort; the run's state so far is kept)."""
        if self._actor is not None and _connected():
            self._runner.ray.kill(self._actor, no_restart=True)

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.snapshot().done:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    @property
    def alive(self) -> bool:
        return self._final is None

    # -- reading

    @property
    def placement(self) -> Placement:
        if self._where is None:
            return Placement("ray", "", "")
        here = self._where["ip"] == self._runner.local_ip
        node = "this machine" if here else f"cluster node {self._where['host']} ({self._where['ip']})"
        device = self._last.device or ("cuda" if self._where["gpus"] else "")
        return Placement("ray", f"{node}, through Ray" if here else node, device)

    @property
    def result(self):
        return self._result

    @property
    def model(self) -> nn.Module | None:
        """The trained model, rebuilt here from the worker's weights (None until the run is done)."""
        if self._model is None and self._weights is not None and self.dataset is not None:
            from explainers.training import load_weights
            from explainers.training.build import build_model

            self._model = load_weights(build_model(self.config, self.dataset), self._weights)
        return self._model

    def snapshot(self) -> RunSnapshot:
        """The worker's snapshot (a placeholder while queued; a failed one if the worker died)."""
        with self._lock:
            if self._final is not None:
                return self._final
            if not _connected():
                return self._end(placeholder_snapshot(
                    self.config, "failed", "This server lost its connection to the Ray cluster, so this run "
                    "is lost. Start it once more.", last=self._last))
            ray = self._runner.ray
            try:
                if self._where is None:
                    ready, _ = ray.wait([self._ready_ref], timeout=0)
                    if not ready:
                        return self._queued()
                    self._where = ray.get(self._ready_ref)
                    self._runner._dequeue(self)
                snap = ray.get(self._actor.snapshot.remote(), timeout=SNAPSHOT_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                return self._last  # busy node or network: show the last picture, ask again next poll
            except ray.exceptions.RayActorError as exc:
                return self._lost(exc)
            self._last = snap
            if not snap.done and self._stop_asked is not None and time.monotonic() - self._stop_asked > KILL_AFTER_S:
                self.kill()
                return self._end(placeholder_snapshot(
                    self.config, "stopped", f"Stopped: the worker did not stop within {KILL_AFTER_S:.0f} s, "
                    "so it was ended.", last=snap))
            if snap.done:
                self._fetch_final()
                return self._end(snap)
            return snap

    def _queued(self) -> RunSnapshot:
        from dataclasses import replace

        if self._stop_asked is not None:  # never started: nothing to stop between batches
            self.kill()
            return self._end(placeholder_snapshot(
                self.config, "stopped", "Stopped by the user. It had not started yet (it was waiting for a "
                "free slot on the Ray cluster)."))
        self._last = replace(self._last, queue_position=self._runner.position(self))
        return self._last

    def _lost(self, exc: Exception) -> RunSnapshot:
        where = (f"on {self._where['host']} ({self._where['ip']})" if self._where else "on the cluster")
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        self.error = str(exc)
        if self._stop_asked is not None:
            message = "Stopped by the user (the worker was ended)."
            return self._end(placeholder_snapshot(self.config, "stopped", message, last=self._last))
        message = (f"The training worker {where} stopped unexpectedly, so this run is lost "
                   f"(Ray said: {reason}). Its place is free again: start the run once more.")
        return self._end(placeholder_snapshot(self.config, "failed", message, last=self._last))

    def _fetch_final(self) -> None:
        ray = self._runner.ray
        try:
            self._result, self._weights, error = ray.get(self._actor.final.remote(), timeout=FINAL_TIMEOUT_S)
            self.error = self.error or error
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as exc:
            self.error = f"Could not fetch the trained model from the worker: {exc}"

    def _end(self, snap: RunSnapshot) -> RunSnapshot:
        """The run will not change any more: remember its last snapshot and free its slot on the cluster."""
        self._final = self._last = snap
        self._runner._dequeue(self)
        if self._actor is not None:
            self.kill()
            self._actor = self._ready_ref = None
        return snap


class RayRunner:
    """Starts runs as Ray actors on the cluster at `address` ("auto", "ray://host:10001", or "local")."""

    name = "ray"

    def __init__(self, address: str, *, cpus_per_run: float | None = None, init_options: dict | None = None) -> None:
        self.address = address
        self.init_options = dict(init_options or {})  # extra ray.init arguments ("local": num_cpus=2, ...)
        self.cpus_per_run = float(cpus_per_run or os.environ.get("NEURAL_LENS_RAY_CPUS") or 1)
        self.local_ip = ""
        self._lock = threading.Lock()
        self._waiting: list[weakref.ref[RayHandle]] = []
        self._sessions: dict[str, weakref.ref[RayHandle]] = {}  # each session's latest run: one job per learner
        self._actor_class: Any = None
        self._job_env = False
        self.ray: Any = None

    def connect(self) -> None:
        """Join the cluster once per process (nothing to do if this process already joined one)."""
        with self._lock:
            if self._actor_class is not None:
                return
            ray = _ray()
            # The job's runtime_env ships our code to every node (Ray accepts local folders only here).
            self._job_env = not ray.is_initialized()
            if self._job_env:
                options = {"namespace": "neural-lens", "log_to_driver": False, "runtime_env": self._runtime_env(),
                           **self.init_options}
                if self.address == "local":  # a throw-away cluster in this process (development, tests)
                    options["include_dashboard"] = False
                else:
                    options["address"] = self.address
                error = _init_in_a_lasting_thread(ray, options)
                if error is not None:
                    raise RunnerUnavailable(
                        f"Cannot reach the Ray cluster at {self.address!r} ({type(error).__name__}: "
                        f"{str(error).strip().splitlines()[0][:200] if str(error).strip() else ''}). "
                        "Start it (`ray start --head`) or unset NEURAL_LENS_RAY_ADDRESS to train on this machine."
                    )
            self.ray = ray
            self.local_ip = ray.util.get_node_ip_address()
            self._actor_class = ray.remote(max_restarts=0, max_task_retries=0)(RunWorker)

    @staticmethod
    def _data_env() -> dict[str, str]:
        data = os.environ.get("NEURAL_LENS_RAY_DATA")
        if not data:
            from explainers.training.data import data_dir

            data = str(Path(data_dir()).resolve())
        return {"NEURAL_LENS_DATA": data}

    def _runtime_env(self) -> dict:
        return {
            "py_modules": [str(_ROOT / "explainers"), str(_ROOT / "models")],
            "env_vars": self._data_env(),
            "excludes": ["__pycache__", "*.pyc"],
        }

    def has_gpus(self) -> bool:
        return float(self.ray.cluster_resources().get("GPU", 0)) >= 1

    def start(self, config: TrainConfig, dataset: ImageDataset | None = None, *,
              owner: object | None = None, session: str | None = None) -> RayHandle:
        """Start `config` on the cluster; ValueError for a bad config, RunnerUnavailable if the cluster is not there,
        ServerBusy (a ValueError) when ``session`` already has a run queued or training here (one per learner,
        as on the local runner; the cluster's own queue shares its slots)."""
        problems = config.problems()
        if problems:
            raise ValueError(" ".join(problems))
        self.connect()
        gpus = self.has_gpus()
        if config.device == "cuda" and not gpus:
            raise ValueError("The Ray cluster has no GPU; choose the device 'auto' or 'cpu'.")
        if config.device == "mps":
            raise ValueError("Apple GPUs are not used through Ray; choose the device 'auto' or 'cpu'.")
        num_gpus = 1 if gpus and config.device in ("auto", "cuda") else 0
        handle = RayHandle(self, config, dataset, owner, num_gpus)
        if session is not None:
            with self._lock:  # check and claim at once: two quick clicks cannot both pass
                self._sessions = {k: r for k, r in self._sessions.items() if r() is not None and r().alive}
                if session in self._sessions:
                    raise ServerBusy("This tab already has a run queued or training; stop it first "
                                     "(one run per learner, so everyone gets a turn).")
                self._sessions[session] = weakref.ref(handle)
        try:
            return handle.start()
        except BaseException:
            with self._lock:  # it never ran: the learner may try again
                self._sessions.pop(session, None)
            raise

    def _spawn(self, config: TrainConfig, num_gpus: float) -> Any:
        # Joined a cluster someone else started in this process: our code must already import there.
        env = {} if self._job_env else {"runtime_env": {"env_vars": self._data_env()}}
        return self._actor_class.options(num_cpus=self.cpus_per_run, num_gpus=num_gpus, **env).remote(
            config, max(1, int(self.cpus_per_run)))

    # -- the queue: this process's runs that Ray has not started yet, in the order they were asked for

    def _enqueue(self, handle: RayHandle) -> None:
        with self._lock:
            self._waiting.append(weakref.ref(handle))

    def _dequeue(self, handle: RayHandle) -> None:
        with self._lock:
            self._waiting = [r for r in self._waiting if r() is not None and r() is not handle]

    def position(self, handle: RayHandle) -> int:
        """1 = the next of this server's runs to start; 0 = not waiting. (Ray does not expose its own order.)"""
        with self._lock:
            live = [r() for r in self._waiting if r() is not None]
        return live.index(handle) + 1 if handle in live else 0
