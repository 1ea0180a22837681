"""A class on one server: N simulated sessions move sliders on two pages; response time per app set-up.

    python -m benchmarks.classroom [--sessions 1,5,30] [--seconds 40] [--setups direct,proxy1,proxy2]

Each simulated session speaks Streamlit's own protocol, like the browser does: an HTTP GET of the
page (which gives it the proxy's sticky cookie), a websocket to /_stcore/stream, a `rerun_script`
BackMsg for the page, then every --period seconds a rerun BackMsg with one slider moved (the
widget states of every slider it has seen, the page's script hash and the slider's fragment id,
as the frontend sends them). Even sessions open Convolution and move its stride; odd sessions open
Perceptron and move weight w1 (a range input of a browser-drawn panel, whose state is sent as the
panel sends it). A response is the time from sending the BackMsg until the
ScriptFinished ForwardMsg of that run; a session waits for it before its next move (a learner looks
at the picture), so a slow server gets fewer moves, not a growing backlog. Errors: exceptions
shown on the page, runs that fail, connections that drop, responses slower than --timeout.

Set-ups, all started here on 127.0.0.1 (nothing else is contacted):
  direct: one `streamlit run app.py`, sessions connect to it;
  proxyN: N app processes behind HAProxy (deploy/serve.py's Classroom), sessions connect to the proxy.
Reports median and p90 response, moves answered, errors, and per server process its CPU (% of one
core over the measured window) and memory (RSS idle before, peak during, a few seconds after).

    python -m benchmarks.classroom --setups "" --ray-runs 10 --ray-cpus 2

starts a local Ray with --ray-cpus CPUs and --ray-runs training runs at once (one per simulated
session) through the Ray runner; reports each run's wait in the queue and its training time, the
most runs training at once, and whether all finished.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import platform
import random
import statistics
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from deploy.serve import COOKIE, Classroom
from pages.widgets.slider_panel import COMPONENT, panel_message

MAX_SESSIONS = 200
MAX_SECONDS = 900
EARLY_FOR_RERUN = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FAILED = {ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
# page url path -> label of the slider a session moves there
PAGES = {"convolution": "Stride", "perceptron": "Weight w1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_only(url: str) -> str:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the benchmark talks to 127.0.0.1 only, not {url}")
    return url


@dataclass
class Slider:
    """What a session knows of one slider: enough to send its widget state back."""

    id: str
    label: str
    fragment_id: str
    lo: float
    hi: float
    step: float
    value: list[float]


@dataclass
class Panel:
    """A browser-drawn panel of range inputs (pages/widgets/slider_panel.py): its state is one JSON value."""

    id: str
    fragment_id: str
    controls: dict[str, Slider]  # by label; Slider.id is the session-state key the value goes to
    seq: int  # the last change the page applied
    state: str = ""  # what the browser last sent for it ("" before any move)

    def move(self, label: str, value: float) -> None:
        """Send `value` for `label` as the panel does: the moved range's value, one sequence number on.

        The controls keep what the page last drew: the page's next drawing must show `value`, or the move
        was lost (SimulatedSession.move checks).
        """
        self.seq += 1
        self.state = json.dumps(panel_message(self.seq, {self.controls[label].id: value}))


@dataclass
class SessionLog:
    page: str
    responses: list[float] = field(default_factory=list)  # seconds per moved slider
    load: float | None = None  # seconds until the page's first run finished
    errors: list[str] = field(default_factory=list)
    backend: str = ""  # the sticky cookie's value: which process served it


class SimulatedSession:
    """One learner's browser tab, reduced to the websocket messages that cost the server work."""

    def __init__(self, base: str, page: str, log: SessionLog, timeout: float) -> None:
        self.base, self.page, self.log, self.timeout = _local_only(base), page, log, timeout
        self.sliders: dict[str, Slider] = {}
        self.panels: dict[str, Panel] = {}
        self.page_hash = ""
        self.ws = None

    def _cookies(self) -> str:
        """GET the page like a browser: the proxy answers with its sticky cookie (and Streamlit its XSRF one)."""
        with urllib.request.urlopen(f"{self.base}/{self.page}", timeout=self.timeout) as r:
            r.read()
            jar = [c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or []]
        for c in jar:
            if c.startswith(COOKIE + "="):
                self.log.backend = c.split("=", 1)[1]
        return "; ".join(jar)

    async def open(self) -> None:
        cookies = await asyncio.to_thread(self._cookies)
        self.ws = await websockets.connect(
            self.base.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"],
            additional_headers={"Cookie": cookies} if cookies else None, max_size=None,
            open_timeout=self.timeout, ping_interval=None,
        )
        msg = BackMsg()
        msg.rerun_script.page_name = self.page
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        await self._until_finished()
        self.log.load = time.perf_counter() - t0

    async def _until_finished(self) -> None:
        """Read ForwardMsgs until this run has finished, noting sliders, the page hash and errors."""
        async with asyncio.timeout(self.timeout):
            while True:
                fwd = ForwardMsg()
                fwd.ParseFromString(await self.ws.recv())
                kind = fwd.WhichOneof("type")
                if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                    self._note_element(fwd.delta.new_element, fwd.delta.fragment_id)
                elif kind == "navigation":
                    self.page_hash = fwd.navigation.page_script_hash
                elif kind == "page_not_found":
                    self.log.errors.append(f"page not found: {self.page}")
                elif kind == "script_finished" and fwd.script_finished != EARLY_FOR_RERUN:
                    if fwd.script_finished in FAILED:
                        self.log.errors.append("the script failed to compile")
                    return

    def _note_element(self, element, fragment_id: str) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.log.errors.append(f"exception on {self.page}: {element.exception.message[:200]}")
        elif kind == "slider" and not element.slider.options:  # numeric sliders (select_sliders carry indices)
            s = element.slider
            known = self.sliders.get(s.id)
            # Like the frontend: keep our own value unless the server sets one.
            value = list(s.value) if s.set_value and s.value else (known.value if known else list(s.default))
            self.sliders[s.id] = Slider(s.id, s.label, fragment_id, s.min, s.max, s.step or 1.0, value)
        elif kind == "bidi_component" and element.bidi_component.component_name == COMPONENT:
            c = element.bidi_component
            data = json.loads(c.json)
            controls = {d["label"]: Slider(d["name"], d["label"], fragment_id, d["lo"], d["hi"], d["step"], [d["value"]])
                        for d in data["controls"]}
            known = self.panels.get(c.id)
            self.panels[c.id] = Panel(c.id, fragment_id, controls, data["seq"], known.state if known else "")

    def _target(self) -> tuple[Slider, Panel | None]:
        """The slider to move (PAGES names it), and the browser-drawn panel it sits in, if any."""
        label = PAGES[self.page]
        for s in self.sliders.values():
            if s.label == label:
                return s, None
        for panel in self.panels.values():
            if label in panel.controls:
                return panel.controls[label], panel
        if not self.sliders:
            raise RuntimeError(f"no slider on {self.page}")
        return next(iter(self.sliders.values())), None  # the page changed its labels: move its first slider

    async def move(self, direction: int) -> float:
        """Move the target slider one step (bouncing at its ends); seconds until the rerun finished."""
        s, panel = self._target()
        v = s.value[0] + direction * s.step
        if not s.lo <= v <= s.hi:
            v = s.value[0] - direction * s.step
        v = round(v, 10)
        if panel is not None:
            panel.move(s.label, v)
        else:
            s.value = [v]
        msg = BackMsg()
        state = msg.rerun_script
        state.page_script_hash, state.fragment_id = self.page_hash, s.fragment_id
        for known in self.sliders.values():
            w = state.widget_states.widgets.add()
            w.id = known.id
            w.double_array_value.data.extend(known.value)
        for known_panel in self.panels.values():
            if known_panel.state:
                w = state.widget_states.widgets.add()
                w.id = known_panel.id
                w.json_value = known_panel.state
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        await self._until_finished()
        elapsed = time.perf_counter() - t0
        if panel is not None:  # the page draws the panel again with what it applied: our move, or it was lost
            shown = self.panels[panel.id].controls[s.label].value[0]
            if abs(shown - v) > 1e-9:
                self.log.errors.append(f"{s.label} moved to {v} but the page shows {shown}")
        return elapsed

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def _learner(session: SimulatedSession, start: float, stop: float, period: float) -> None:
    """Move a slider every `period` s from `start` until `stop` (monotonic times); log responses and errors."""
    log, direction, due = session.log, 1, start
    try:
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if time.monotonic() >= stop:
                return
            log.responses.append(await session.move(direction))
            direction = random.choice((1, -1))
            due = max(due + period, time.monotonic())  # waited for a slow answer: move again at once
    except TimeoutError:
        log.errors.append(f"no answer within {session.timeout:.0f} s")
    except (websockets.ConnectionClosed, OSError) as exc:
        log.errors.append(f"connection lost: {type(exc).__name__}: {exc}")


@dataclass
class ProcessUsage:
    name: str
    pid: int
    cpu_percent: float = 0.0  # of one core, over the measured window
    rss_before: float = 0.0  # MiB
    rss_peak: float = 0.0
    rss_after: float = 0.0


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def server_processes(room: Classroom) -> list[tuple[str, int]]:
    """(name, pid) of every app process and of HAProxy's worker(s)."""
    procs = [(f"app :{app.port}", app.proc.pid) for app in room.apps if app.proc is not None]
    if room.proxy is not None:
        procs += [("haproxy", pid) for pid in [room.proxy.pid, *_children(room.proxy.pid)]]
    return procs


@dataclass
class Outcome:
    setup: str
    sessions: int
    seconds: float
    logs: list[SessionLog]
    usage: list[ProcessUsage]
    client_cpu_percent: float

    @property
    def responses(self) -> list[float]:
        return [r for log in self.logs for r in log.responses]

    @property
    def errors(self) -> list[str]:
        return [e for log in self.logs for e in log.errors]

    def median(self) -> float:
        return statistics.median(self.responses) if self.responses else float("nan")

    def p90(self) -> float:
        r = self.responses
        return statistics.quantiles(r, n=10)[-1] if len(r) > 1 else (r[0] if r else float("nan"))


async def _run_sessions(url: str, n: int, seconds: float, period: float, timeout: float,
                        on_measuring: Callable[[], None]) -> list[SessionLog]:
    pages = list(PAGES)
    logs = [SessionLog(pages[i % len(pages)]) for i in range(n)]
    sessions = [SimulatedSession(url, log.page, log, timeout) for log in logs]

    async def _open(s: SimulatedSession) -> None:
        try:
            await s.open()
        except (TimeoutError, OSError, websockets.WebSocketException, RuntimeError) as exc:
            s.log.errors.append(f"could not open {s.page}: {type(exc).__name__}: {exc}")

    # Open the tabs a few at a time (a class arrives over a minute, not in one millisecond).
    gate = asyncio.Semaphore(4)

    async def _gated(s: SimulatedSession) -> None:
        async with gate:
            await _open(s)

    await asyncio.gather(*(_gated(s) for s in sessions))
    on_measuring()
    start = time.monotonic()
    stop = start + seconds
    live = [s for s in sessions if s.ws is not None and not s.log.errors]
    # Spread the sessions' moves evenly over one period, so load is steady rather than in bursts.
    await asyncio.gather(*(_learner(s, start + period * i / max(1, len(live)), stop, period)
                           for i, s in enumerate(live)))
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return logs


def _run_coroutine(factory: Callable[[], Any]) -> Any:
    """asyncio.run(factory()), in a worker thread when this thread already runs an event loop
    (Playwright's sync API keeps one running for a whole test session)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def measure(room: Classroom, sessions: int, seconds: float, *, period: float = 2.0, timeout: float = 60.0,
            settle: float = 3.0) -> Outcome:
    """Run `sessions` simulated learners against a started Classroom for `seconds` of moves."""
    if not 1 <= sessions <= MAX_SESSIONS:
        raise ValueError(f"between 1 and {MAX_SESSIONS} sessions")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"between 0 and {MAX_SECONDS} seconds")
    procs = server_processes(room)
    usage = [ProcessUsage(name, pid, rss_before=_rss_mib(pid)) for name, pid in procs]
    marks: dict[str, tuple[float, list[int], float]] = {}

    def _mark(name: str) -> None:
        marks[name] = (time.monotonic(), [_cpu_ticks(u.pid) for u in usage], time.process_time())

    async def _sample_rss(stop: asyncio.Event) -> None:
        while not stop.is_set():
            for u in usage:
                u.rss_peak = max(u.rss_peak, _rss_mib(u.pid))
            await asyncio.sleep(0.5)

    async def _main() -> list[SessionLog]:
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(stop))
        logs = await _run_sessions(room.url, sessions, seconds, period, timeout, lambda: _mark("start"))
        _mark("end")
        stop.set()
        await sampler
        return logs

    logs = _run_coroutine(_main)
    (t0, c0, p0), (t1, c1, p1) = marks["start"], marks["end"]
    hz = os.sysconf("SC_CLK_TCK")
    for u, a, b in zip(usage, c0, c1):
        u.cpu_percent = 100 * (b - a) / hz / (t1 - t0)
    time.sleep(settle)  # sessions closed: what memory does each process give back?
    for u in usage:
        u.rss_after = _rss_mib(u.pid)
    return Outcome(room_label(room), sessions, t1 - t0, logs, usage, 100 * (p1 - p0) / (t1 - t0))


def room_label(room: Classroom) -> str:
    n = len(room.apps)
    return "1 app, direct" if room.proxy is None else f"{n} app{'s' if n > 1 else ''}, proxy"


def make_room(setup: str, workdir: Path | None = None) -> Classroom:
    """"direct" or "proxyN" -> an unstarted Classroom on free 127.0.0.1 ports."""
    kw = {"workdir": workdir} if workdir else {}
    if setup == "direct":
        return Classroom([_free_port()], **kw)
    if setup.startswith("proxy") and setup[5:].isdigit() and 1 <= int(setup[5:]) <= 16:
        return Classroom([_free_port() for _ in range(int(setup[5:]))], port=_free_port(), host="127.0.0.1", **kw)
    raise ValueError(f"unknown set-up {setup!r}: direct or proxy1 .. proxy16")


def row(o: Outcome) -> str:
    """One markdown table row for RESULTS.md."""
    apps = [u for u in o.usage if u.name.startswith("app")]
    proxy = [u for u in o.usage if u.name == "haproxy"]
    cpu = " + ".join(f"{u.cpu_percent:.0f}" for u in apps)
    mem = " + ".join(f"{u.rss_before:.0f}/{u.rss_peak:.0f}/{u.rss_after:.0f}" for u in apps)
    hap = f"{sum(u.cpu_percent for u in proxy):.0f}%" if proxy else "-"
    per_session = len(o.responses) / max(1, o.sessions) / max(o.seconds, 1e-9)
    return (f"| {o.setup} | {o.sessions} | {o.median():.2f} | {o.p90():.2f} | {len(o.responses)} "
            f"({per_session * 2:.2f}/2 s) | {len(o.errors)} | {cpu} | {hap} | {mem} | {o.client_cpu_percent:.0f}% |")


HEADER = ("| set-up | sessions | median s | p90 s | moves answered (per session per 2 s) | errors "
          "| app CPU % of a core | haproxy CPU | app RSS MiB before/peak/after | client CPU |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def ray_queue(runs: int, cpus: int, *, epochs: int = 1, timeout: float = 1800.0) -> list[str]:
    """`runs` runs started at once on a fresh local Ray with `cpus` CPUs -> report lines (markdown)."""
    if not 1 <= runs <= 50 or not 1 <= cpus <= (os.cpu_count() or 1):
        raise ValueError(f"1..50 runs on 1..{os.cpu_count()} CPUs")
    import ray

    from explainers.training import TrainConfig
    from explainers.training.runners.ray import RayRunner

    config = TrainConfig(dataset="synthetic-digits", model="fast_cnn", epochs=epochs, seed=0, histograms=False)
    runner = RayRunner("local", init_options={"num_cpus": cpus, "object_store_memory": 256 * 2**20})
    t0 = time.monotonic()
    runner.connect()
    t_ready = time.monotonic()
    class _Session:  # stands for a Streamlit session's token (weakly referenced, as the page's is)
        pass

    owners = [_Session() for _ in range(runs)]
    handles = [runner.start(config, owner=o) for o in owners]
    started: dict[int, float] = {}
    ended: dict[int, float] = {}
    most, positions = 0, []
    try:
        while len(ended) < runs and time.monotonic() - t_ready < timeout:
            snaps = [h.snapshot() for h in handles]
            now = time.monotonic() - t_ready
            positions.append(max(s.queue_position for s in snaps))
            most = max(most, sum(s.status == "running" for s in snaps))
            for i, s in enumerate(snaps):
                if s.status != "queued":
                    started.setdefault(i, now)
                if s.done:
                    ended.setdefault(i, now)
            time.sleep(0.5)
    finally:
        for h in handles:
            h.stop()
        ray.shutdown()
    statuses = [h.snapshot().status for h in handles]
    lines = [f"Local Ray with {cpus} CPUs (started in {t_ready - t0:.1f} s), {runs} runs of {config.model} on "
             f"{config.dataset}, {epochs} epoch(s), each asking for 1 CPU; load average {os.getloadavg()[0]:.2f}.",
             "", "| run | waited s (queue + worker start) | trained s | status | test accuracy |", "|---|---|---|---|---|"]
    for i, h in enumerate(handles):
        acc = f"{h.result.test_accuracy:.1%}" if h.result is not None else "-"
        lines.append(f"| {i + 1} | {started.get(i, float('nan')):.1f} | "
                     f"{ended.get(i, float('nan')) - started.get(i, float('nan')):.1f} | {statuses[i]} | {acc} |")
    lines += ["", f"All finished: {statuses.count('finished')}/{runs} in {max(ended.values(), default=float('nan')):.1f} s; "
              f"at most {most} training at once; deepest queue position seen {max(positions, default=0)}."]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,5,30", help="comma-separated session counts")
    ap.add_argument("--seconds", type=float, default=40, help="measured seconds per run (after the tabs opened)")
    ap.add_argument("--period", type=float, default=2.0, help="seconds between one session's slider moves")
    ap.add_argument("--setups", default="direct,proxy1,proxy2", help="direct and/or proxyN (N app processes)")
    ap.add_argument("--timeout", type=float, default=60.0, help="a response slower than this is an error")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ray-runs", type=int, default=0, help="also: this many training runs at once on a local Ray")
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of that local Ray")
    args = ap.parse_args(argv)
    random.seed(args.seed)
    if args.ray_runs:
        print("\n".join(ray_queue(args.ray_runs, args.ray_cpus)), flush=True)
    if not args.setups:
        return
    counts = [int(x) for x in args.sessions.split(",")]
    print(f"# {platform.node()}: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"period {args.period} s, {args.seconds:.0f} s per run")
    print(HEADER, flush=True)
    for setup in args.setups.split(","):
        with make_room(setup) as room:
            for n in counts:
                o = measure(room, n, args.seconds, period=args.period, timeout=args.timeout)
                print(row(o), flush=True)
                for e in sorted(set(o.errors))[:5]:
                    print(f"  error: {e}")
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
