"""Start, watch and always clean up the worker processes of a scaling run (no torch imported here).

``start(plan, owner=...)`` returns a ``Job`` at once; a monitor thread (never Streamlit's script
thread) waits for a server-wide slot, picks a free rendezvous port, starts one
``python -m explainers.scaling.worker`` process per rank (torchrun-style: the rank and the
world come in environment variables), polls them, and collects their results. Workers are
killed and reaped on every way out: finished, ``stop()``, the owner (kept in the learner's
session) garbage-collected, a timeout, a crashed rank, or the server process exiting.
``run(plan)`` is the blocking form for tests, benchmarks and scripts.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from explainers.scaling.plans import ModelParallelPlan, Plan, Result, assemble

ROOT = Path(__file__).resolve().parents[2]  # the repo: workers import explainers and models from here
MAX_CPU_WORLD = 8
STATUSES = ("queued", "starting", "running", "finished", "stopped", "failed")


class ScalingError(RuntimeError):
    """A run could not start or did not finish; str(exc) is one line for the page."""


class WorldSizeError(ScalingError, ValueError):
    """More ranks than this machine can give one core (or one GPU) each."""


class PortInUse(ScalingError):
    """The rendezvous port is taken by another program."""


class WorkerCrashed(ScalingError):
    """A worker process died or raised."""


class JobTimeout(ScalingError):
    """The run (or its rendezvous) took longer than allowed."""


@dataclass(frozen=True)
class Machine:
    """What this computer offers the lesson."""

    cpus: int
    gpus: int

    def backend(self, ranks: int) -> str:
        """NCCL when every rank can have its own GPU (rank r on cuda:r), else gloo on the CPU."""
        return "nccl" if 1 <= ranks <= self.gpus else "gloo"

    @property
    def max_world_size(self) -> int:
        """One rank per GPU when there are 2+, else one per CPU core (at least 2, so the lesson runs)."""
        return self.gpus if self.gpus >= 2 else max(2, min(self.cpus, MAX_CPU_WORLD))

    def describe(self) -> str:
        cores = f"{self.cpus} CPU core{'s' * (self.cpus != 1)}"
        gpus = f"{self.gpus} CUDA GPU{'s' * (self.gpus != 1)}" if self.gpus else "no CUDA GPU"
        how = (f"NCCL, one GPU per rank, up to {self.max_world_size} ranks" if self.gpus >= 2
               else f"gloo on the CPU, one core per rank, up to {self.max_world_size} ranks")
        return f"{cores}, {gpus}: {how}."


@lru_cache(maxsize=1)
def machine() -> Machine:
    """This computer's CPU cores and CUDA GPUs (imports torch once, lazily)."""
    import torch

    return Machine(os.cpu_count() or 1, torch.cuda.device_count() if torch.cuda.is_available() else 0)


def check_world_size(ranks: int, m: Machine | None = None) -> None:
    """Raise WorldSizeError when ``ranks`` processes do not fit this machine."""
    m = m or machine()
    if ranks < 1:
        raise WorldSizeError("The world size must be at least 1.")
    if ranks > m.max_world_size:
        per = "GPU" if m.gpus >= 2 else "CPU core"
        have = f"{m.gpus} GPUs" if m.gpus >= 2 else f"{m.cpus} CPU core{'s' * (m.cpus != 1)}"
        raise WorldSizeError(f"World size {ranks} needs one {per} per rank, but this machine has {have}; "
                             f"choose at most {m.max_world_size}.")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (bind port 0 and let the OS choose)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Raise PortInUse (or ValueError) unless ``port`` can be listened on."""
    if not 1024 <= port <= 65535:
        raise ValueError(f"Port {port} is outside 1024-65535.")
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            raise PortInUse(f"Port {port} is already in use by another program; pick another port "
                            "or leave it at 0 so the lesson chooses a free one.") from None


@dataclass(frozen=True)
class JobSnapshot:
    """A copy of a job's state, safe to read from the page while the job goes on."""

    status: str  # one of STATUSES
    message: str
    progress: float  # 0..1, from rank 0's reports
    elapsed_s: float
    backend: str
    world_size: int
    port: int | None
    result: Result | None
    error: ScalingError | None

    @property
    def done(self) -> bool:
        return self.status in ("finished", "stopped", "failed")


_SLOTS = threading.BoundedSemaphore(int(os.environ.get("NEURAL_LENS_MAX_SCALING_JOBS") or 1))
_LIVE: weakref.WeakSet[Job] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class _Stopped(Exception):
    pass


class Job:
    """The worker processes of one plan, watched by a thread; see ``start``."""

    def __init__(self, plan: Plan, *, owner: object | None = None, port: int | None = None,
                 timeout_s: float = 180.0, init_timeout_s: float = 30.0) -> None:
        problems = plan.problems()
        if problems:
            raise ValueError(" ".join(problems))
        m = machine()
        if isinstance(plan, ModelParallelPlan) and m.gpus >= 2 and not plan.use_gpus:
            plan = dataclasses.replace(plan, use_gpus=True)  # the tutorial's own cuda:0 / cuda:1 split
        check_world_size(plan.ranks, m)
        if port:
            check_port(port)
        self.plan = plan
        self.backend = m.backend(plan.ranks)
        self._port = port or None
        self._owner = weakref.ref(owner) if owner is not None else None
        self._timeout_s, self._init_timeout_s = timeout_s, init_timeout_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._t0 = time.monotonic()
        self._state: dict[str, Any] = {"status": "queued", "message": "Queued: one run at a time on this server", "progress": 0.0,
                                       "result": None, "error": None, "port": None, "ended": None}
        self._thread = threading.Thread(target=self._main, name=f"scaling-{plan.kind}", daemon=True)
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._thread.start()

    # -- public
    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = dict(self._state)
        end = s["ended"] or time.monotonic()
        return JobSnapshot(s["status"], s["message"], s["progress"], end - self._t0, self.backend,
                           self.plan.ranks, s["port"], s["result"], s["error"])

    def stop(self) -> None:
        """Ask the monitor to kill the workers; returns at once (``join`` to wait)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def pids(self) -> list[int]:
        """Process ids of the workers started so far (for tests)."""
        with self._lock:
            return [p.pid for p in self._procs]

    # -- monitor thread
    def _cancelled(self) -> bool:
        return self._stop.is_set() or (self._owner is not None and self._owner() is None)

    def _set(self, **kw: Any) -> None:
        with self._lock:
            self._state.update(kw)

    def _main(self) -> None:
        job_dir = None
        try:
            while not _SLOTS.acquire(timeout=0.2):
                if self._cancelled():
                    raise _Stopped
            try:
                job_dir = Path(tempfile.mkdtemp(prefix="neural-lens-scaling-"))
                result = self._launch_and_watch(job_dir)
                self._set(status="finished", message="Finished.", progress=1.0, result=result)
            finally:
                self._kill_all()
                _SLOTS.release()
        except _Stopped:
            self._set(status="stopped", message="Stopped; every worker process has been ended.")
        except ScalingError as exc:
            self._set(status="failed", message=str(exc), error=exc)
        except Exception as exc:  # noqa: BLE001 - the page shows one line, never a traceback
            err = ScalingError(f"The run failed: {exc}")
            self._set(status="failed", message=str(err), error=err)
        finally:
            self._kill_all()
            if job_dir is not None:
                shutil.rmtree(job_dir, ignore_errors=True)
            self._set(ended=time.monotonic())

    def _launch_and_watch(self, job_dir: Path) -> Result:
        port = self._port or free_port()
        self._set(status="starting", message=f"Starting {self.plan.ranks} worker process(es) on port {port}.",
                  port=port)
        (job_dir / "plan.pkl").write_bytes(pickle.dumps(self.plan))
        n = self.plan.ranks
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(n),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NEURAL_LENS_BACKEND": self.backend,
               "NEURAL_LENS_INIT_TIMEOUT": f"{self._init_timeout_s:g}", "NEURAL_LENS_PARENT_PID": str(os.getpid()),
               "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        for rank in range(n):
            if self._cancelled():
                raise _Stopped
            log = open(job_dir / f"log-{rank}.txt", "wb")
            with log, self._lock:
                self._procs.append(subprocess.Popen(
                    [sys.executable, "-m", "explainers.scaling.worker", str(job_dir), str(rank)],
                    cwd=ROOT, env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + self._timeout_s
        while True:
            if self._cancelled():
                raise _Stopped
            codes = [p.poll() for p in self._procs]
            if any(c not in (None, 0) for c in codes):
                time.sleep(0.3)  # let the first failure's cause (a killed rank) show before blaming a survivor
                raise self._failure(job_dir)
            if all(c == 0 for c in codes):
                break
            if time.monotonic() > deadline:
                raise JobTimeout(f"The run took longer than {self._timeout_s:g} s and was stopped.")
            self._read_progress(job_dir)
            time.sleep(0.1)
        per_rank = []
        for rank in range(n):
            path = job_dir / f"result-{rank}.pkl"
            if not path.exists():
                raise WorkerCrashed(f"Worker rank {rank} exited without a result.")
            per_rank.append(pickle.loads(path.read_bytes()))  # written by our own worker, in our private folder
        return assemble(self.plan, per_rank, self.backend)

    def _read_progress(self, job_dir: Path) -> None:
        try:
            p = json.loads((job_dir / "progress-0.json").read_text())
        except (OSError, ValueError):
            return
        self._set(status="running", progress=p["done"] / max(1, p["total"]),
                  message=f"Rank 0: {p['message']}.")

    def _failure(self, job_dir: Path) -> ScalingError:
        codes = [p.poll() for p in self._procs]
        for rank, code in enumerate(codes):  # a rank killed from outside is the cause; the others only lost it
            if code is not None and code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"signal {-code}"
                return WorkerCrashed(f"Worker rank {rank} crashed (killed by {name}); the other ranks were stopped.")
        for rank, code in enumerate(codes):
            err = job_dir / f"error-{rank}.txt"
            if code not in (None, 0) and err.exists():
                first = err.read_text(errors="replace").splitlines()[0]
                if first.startswith("Port "):
                    return PortInUse(first)
                if first.startswith("The workers did not all join"):
                    return JobTimeout(first)
                return WorkerCrashed(f"Worker rank {rank} failed: {first}")
        rank, code = next((r, c) for r, c in enumerate(codes) if c not in (None, 0))
        return WorkerCrashed(f"Worker rank {rank} stopped unexpectedly (exit code {code}).")

    def _kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start(plan: Plan, *, owner: object | None = None, port: int | None = None, timeout_s: float = 180.0,
          init_timeout_s: float = 30.0) -> Job:
    """Start a run in the background; ValueError / ScalingError (one line) when it cannot start."""
    return Job(plan, owner=owner, port=port, timeout_s=timeout_s, init_timeout_s=init_timeout_s)


def run(plan: Plan, **kw: Any) -> Result:
    """Start a run and wait for its result; raises its ScalingError when it fails."""
    job = start(plan, **kw)
    job.join()
    snap = job.snapshot()
    if snap.error is not None:
        raise snap.error
    if snap.result is None:
        raise ScalingError(snap.message)
    return snap.result


def live_jobs() -> list[Job]:
    """Jobs whose monitor thread is still running (this process)."""
    with _LIVE_LOCK:
        return [j for j in _LIVE if j._thread.is_alive()]


def stop_all_jobs(timeout: float = 10.0) -> None:
    """Stop every job of this process and wait for it (tests, server exit)."""
    jobs = live_jobs()
    for j in jobs:
        j.stop()
    for j in jobs:
        j.join(timeout)


atexit.register(stop_all_jobs)
