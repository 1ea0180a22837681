"""One rank of a scaling run, started by the launcher: ``python -m explainers.scaling.worker JOB_DIR RANK``.

Like a process started by ``torchrun``, it reads its place in the world from the environment
(MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK), joins the process group with a
timeout, runs its part of the plan and writes ``result-RANK.pkl`` into JOB_DIR. A failure is
written to ``error-RANK.txt`` (first line: a one-line message for the page) and exits with 3.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import traceback
from pathlib import Path

EXIT_FAILED = 3


def _die_with_parent() -> None:
    """Ask Linux to kill this process if the launcher dies (a killed server leaves no orphans).

    PDEATHSIG follows the *thread* that started us: the launcher's monitor thread, which lives
    until it has reaped every worker, so a normal run never triggers it.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    parent = os.environ.get("NEURAL_LENS_PARENT_PID")
    if parent and os.getppid() != int(parent):  # the launcher died before prctl took effect
        sys.exit(EXIT_FAILED)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def explain_init_error(exc: BaseException, port: int, timeout_s: float) -> str:
    """A one-line message for a failed init_process_group."""
    text = str(exc).lower()
    if "address already in use" in text or "eaddrinuse" in text or "errno: 98" in text:
        return f"Port {port} is already in use by another program; pick another port or let the lesson choose a free one."
    if "timed out" in text or "timeout" in text:
        return (f"The workers did not all join the process group within {timeout_s:g} s "
                "(one may have failed to start, or the machine is very busy).")
    return f"init_process_group failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def main(argv: list[str]) -> int:
    job_dir, rank = Path(argv[0]), int(argv[1])
    _die_with_parent()
    env = os.environ
    world, port = int(env["WORLD_SIZE"]), int(env["MASTER_PORT"])
    timeout_s = float(env.get("NEURAL_LENS_INIT_TIMEOUT", "30"))

    def progress(done: int, total: int, message: str) -> None:
        _write_atomic(job_dir / f"progress-{rank}.json", json.dumps(
            {"done": done, "total": total, "message": message}).encode())

    try:
        plan = pickle.loads((job_dir / "plan.pkl").read_bytes())
        import datetime

        import torch

        torch.set_num_threads(1)  # one core per rank: N ranks on N cores, no oversubscription
        import torch.distributed as dist

        from explainers.scaling.parts import RUNNERS

        backend = env.get("NEURAL_LENS_BACKEND", "gloo")
        device = torch.device(f"cuda:{int(env['LOCAL_RANK'])}") if backend == "nccl" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        progress(0, 1, "joining the process group")
        try:
            dist.init_process_group(backend, init_method=f"tcp://{env['MASTER_ADDR']}:{port}", rank=rank,
                                    world_size=world, timeout=datetime.timedelta(seconds=timeout_s))
        except Exception as exc:  # noqa: BLE001 - any failure here is reported as one line
            raise RuntimeError(explain_init_error(exc, port, timeout_s)) from exc
        try:
            result = RUNNERS[plan.kind](rank, world, plan, device, progress)
        finally:
            dist.destroy_process_group()
        _write_atomic(job_dir / f"result-{rank}.pkl", pickle.dumps(result))
        return 0
    except BaseException as exc:  # noqa: BLE001 - the launcher shows the first line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _write_atomic(job_dir / f"error-{rank}.txt", (first + "\n" + traceback.format_exc()).encode())
        traceback.print_exc()
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
