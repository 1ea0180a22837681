"""Serve Neural Lens on every core: N `streamlit run app.py` processes behind HAProxy with sticky sessions.

    python -m deploy.serve --apps 2 --port 8501        (or: make serve N=2)

One Python process runs every Streamlit session's script, so one server uses one core. This starts
N app processes on 127.0.0.1 (ports --app-port, --app-port+1, ...), all with the same
`server.cookieSecret` (generated once per start unless $NEURAL_LENS_COOKIE_SECRET is set), waits
until each answers /_stcore/health, then runs HAProxy on --host:--port in front of them. A cookie
keeps each browser on the process that holds its session (uploads and media live in that process's
memory). A process that dies is started again; Ctrl-C (or SIGTERM) stops the proxy and every app.

Several machines: on each extra machine start apps only, listening on the network and with the
same secret; on the machine students open, start the proxy with those apps added:

    NEURAL_LENS_COOKIE_SECRET=... python -m deploy.serve --apps 2 --no-proxy --app-address 0.0.0.0   # host B
    NEURAL_LENS_COOKIE_SECRET=... python -m deploy.serve --apps 2 --remote hostB:8601 --remote hostB:8602
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")
COMPOSE_CONFIG = Path(__file__).with_name("haproxy-compose.cfg")
COOKIE = "NLAPP"  # the sticky cookie's name (its value names the app process)
COMPOSE_SLOTS = 16  # compose.yaml's proxy can find up to this many app replicas by DNS
HEALTH = "/_stcore/health"
MAX_APPS = 64


class ServeError(RuntimeError):
    """A deployment could not start; the message says what to do."""


def new_cookie_secret() -> str:
    """$NEURAL_LENS_COOKIE_SECRET, or a fresh random one: the same for every process of one deployment."""
    return os.environ.get("NEURAL_LENS_COOKIE_SECRET") or secrets.token_urlsafe(32)


def render_local_config(app_ports: Sequence[int], bind: str, remote: Sequence[str] = ()) -> str:
    """HAProxy config for apps on 127.0.0.1:app_ports (and "host:port" apps elsewhere) behind `bind`."""
    lines = [f"    server app{i + 1} 127.0.0.1:{p} cookie app{i + 1}" for i, p in enumerate(app_ports)]
    lines += [f"    server remote{i + 1} {hp} cookie remote{i + 1}" for i, hp in enumerate(remote)]
    servers = "\n".join(lines)
    return string.Template(TEMPLATE.read_text()).substitute(
        bind=bind, resolvers="", cookie=f"cookie {COOKIE} insert indirect nocache httponly", servers=servers
    )


def render_compose_config(slots: int = COMPOSE_SLOTS) -> str:
    """HAProxy config for compose.yaml: app replicas found through Docker's DNS, cookies derived per replica."""
    resolvers = (
        "# Docker's embedded DNS lists one address per replica of the `app` service.\n"
        "resolvers docker\n"
        "    nameserver dns 127.0.0.11:53\n"
        "    hold valid 10s\n"
    )
    # Replicas are not known in advance, so each slot's cookie is a hash of its address and this key.
    cookie = (f"cookie {COOKIE} insert indirect nocache httponly dynamic\n"
              '    dynamic-cookie-key "${NEURAL_LENS_COOKIE_SECRET}"')
    servers = f"    server-template app {slots} app:8501 resolvers docker init-addr none resolve-prefer ipv4"
    return string.Template(TEMPLATE.read_text()).substitute(
        bind="*:8501", resolvers=resolvers, cookie=cookie, servers=servers
    )


def haproxy_binary() -> str | None:
    """Path of Debian's haproxy, or None."""
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)


def check_config(path: Path, env: dict[str, str] | None = None) -> None:
    """`haproxy -c -f path`; ServeError with HAProxy's own words if the config is invalid."""
    binary = haproxy_binary()
    if binary is None:
        raise ServeError("haproxy is not installed: `make haproxy` (or apt-get install haproxy)")
    out = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise ServeError(f"haproxy rejected {path}:\n{out.stdout}{out.stderr}")


def _die_with_parent() -> None:
    """In the child: get SIGTERM if serve.py dies without cleaning up (Linux), so no app outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    # A session of its own: Ctrl-C reaches serve.py only, which then stops the proxy before the apps.
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, preexec_fn=_die_with_parent)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None, grace: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@dataclass
class App:
    """One `streamlit run` process listening on address:port."""

    port: int
    log: Path
    address: str = "127.0.0.1"
    proc: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.address in ('0.0.0.0', '') else self.address}:{self.port}"


@dataclass
class Classroom:
    """N app processes, optionally behind HAProxy; a context manager that stops everything on exit.

    Without a proxy (port=None) `url` is the first app (the direct set-up the benchmark compares
    against, or the apps of a machine whose proxy runs elsewhere).
    """

    app_ports: Sequence[int]
    port: int | None = None  # the proxy's port (None: no proxy)
    host: str = "127.0.0.1"  # the proxy's address
    app_address: str = "127.0.0.1"  # where the apps listen (0.0.0.0: reachable by a proxy on another host)
    remote: Sequence[str] = ()  # "host:port" of apps on other machines, added to the proxy
    script: str = "app.py"
    secret: str = field(default_factory=new_cookie_secret)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="neural-lens-serve-")))
    extra_env: dict[str, str] = field(default_factory=dict)
    apps: list[App] = field(init=False, default_factory=list)
    proxy: subprocess.Popen | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not 0 <= len(self.app_ports) <= MAX_APPS or not (self.app_ports or self.remote):
            raise ServeError(f"between 1 and {MAX_APPS} app processes here (or only --remote ones)")
        if self.port is None and (self.remote or not self.app_ports):
            raise ServeError("apps on other machines are served through the proxy (give it a port)")
        bad = [r for r in self.remote if not re.fullmatch(r"[A-Za-z0-9.-]+:\d{1,5}", r)]
        if bad:
            raise ServeError(f"--remote takes HOST:PORT, not {bad[0]!r}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.apps = [App(p, self.workdir / f"app-{p}.log", self.app_address) for p in self.app_ports]

    @property
    def url(self) -> str:
        """Where a browser goes: the proxy, or the only app when there is no proxy."""
        if self.port is None:
            return self.apps[0].url
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '*', '') else self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "haproxy.cfg"

    def _app_env(self) -> dict[str, str]:
        # Each process gets its share of the cores for torch, so N processes do not oversubscribe them.
        threads = str(max(1, (os.cpu_count() or 1) // max(1, len(self.apps))))
        return {**os.environ, "PYTHONUNBUFFERED": "1", "NEURAL_LENS_TORCH_THREADS": threads,
                **self.extra_env, "STREAMLIT_SERVER_COOKIE_SECRET": self.secret}

    def _start_app(self, app: App) -> None:
        app.proc = _spawn([
            sys.executable, "-m", "streamlit", "run", self.script,
            "--server.port", str(app.port), "--server.address", app.address,
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            # A served class does not edit the code; watching files costs every process CPU.
            "--server.fileWatcherType", "none",
        ], app.log, self._app_env())

    def _wait_healthy(self, apps: Sequence[App], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(apps)
        while waiting:
            for app in list(waiting):
                if app.proc is not None and app.proc.poll() is not None:
                    raise ServeError(f"app on port {app.port} exited:\n{_tail(app.log)}")
                if _healthy(app.url + HEALTH):
                    waiting.remove(app)
            if waiting and time.monotonic() > deadline:
                raise ServeError(f"app on port {waiting[0].port} not healthy after {timeout:.0f} s; see {waiting[0].log}")
            if waiting:
                time.sleep(0.3)

    def start(self) -> Classroom:
        """Start every app, wait until healthy, then the proxy; ServeError (everything stopped) on failure."""
        try:
            if self.port is not None:  # fail before starting anything if the proxy cannot run
                self.config_path.write_text(
                    render_local_config(self.app_ports, f"{self.host}:{self.port}", self.remote))
                check_config(self.config_path)
            for app in self.apps:
                self._start_app(app)
            self._wait_healthy(self.apps)
            if self.port is not None:
                self.proxy = _spawn([haproxy_binary() or "haproxy", "-W", "-db", "-f", str(self.config_path)],
                                    self.workdir / "haproxy.log", dict(os.environ))
                deadline = time.monotonic() + 20
                while not _healthy(self.url + HEALTH):
                    if self.proxy.poll() is not None or time.monotonic() > deadline:
                        raise ServeError(f"haproxy did not come up on {self.url}:\n{_tail(self.workdir / 'haproxy.log')}")
                    time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        return self

    def watch_once(self) -> list[str]:
        """Restart any app that exited; return one line per event. ServeError if the proxy exited."""
        if self.proxy is not None and self.proxy.poll() is not None:
            raise ServeError(f"haproxy exited ({self.proxy.returncode}):\n{_tail(self.workdir / 'haproxy.log')}")
        events = []
        for app in self.apps:
            if app.proc is not None and app.proc.poll() is not None:
                events.append(f"app on port {app.port} exited ({app.proc.returncode}); starting it again. "
                              f"Its sessions reconnect to another process. Log: {app.log}")
                app.restarts += 1
                self._start_app(app)
        return events

    def stop(self) -> None:
        """Stop the proxy first (no new requests), then every app."""
        _stop(self.proxy)
        for app in self.apps:
            _stop(app.proc)

    def __enter__(self) -> Classroom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0" if host in ("*", "") else host, port))
        except OSError:
            return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", type=int, default=os.cpu_count() or 1, help="app processes (default: one per core)")
    ap.add_argument("--port", type=int, default=8501, help="the proxy's port: what students open")
    ap.add_argument("--host", default="0.0.0.0", help="the proxy's address (0.0.0.0: every network interface)")
    ap.add_argument("--app-port", type=int, default=None, help="first app port (default: --port + 100)")
    ap.add_argument("--app-address", default="127.0.0.1",
                    help="where the apps listen (0.0.0.0 when a proxy on another machine serves them)")
    ap.add_argument("--remote", action="append", default=[], metavar="HOST:PORT",
                    help="an app on another machine (same NEURAL_LENS_COOKIE_SECRET) to serve too; repeatable")
    ap.add_argument("--no-proxy", action="store_true", help="start the apps only (their proxy runs elsewhere)")
    ap.add_argument("--render-compose", action="store_true",
                    help="print the HAProxy config compose.yaml uses (deploy/haproxy-compose.cfg) and exit")
    args = ap.parse_args(argv)
    if args.render_compose:
        sys.stdout.write(render_compose_config())
        return 0
    if not (1 if not args.remote else 0) <= args.apps <= MAX_APPS:
        ap.error(f"--apps must be between 1 and {MAX_APPS} (0 only with --remote)")
    if args.no_proxy and (args.remote or not args.apps):
        ap.error("--no-proxy starts apps here; --remote needs the proxy")
    if args.no_proxy and args.app_address == "127.0.0.1":
        print("serve: --no-proxy with --app-address 127.0.0.1: only this machine can reach the apps", file=sys.stderr)
    first = args.app_port or args.port + 100
    ports = list(range(first, first + args.apps))
    wanted = [(args.app_address, p) for p in ports] + ([] if args.no_proxy else [(args.host, args.port)])
    busy = [p for h, p in wanted if not _port_free(h, p)]
    if busy:
        ap.error(f"port(s) {', '.join(map(str, busy))} already in use; choose --port / --app-port")

    def _terminate(signum, frame):  # SIGTERM (docker stop, systemd) stops as cleanly as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        room = Classroom(ports, port=None if args.no_proxy else args.port, host=args.host,
                         app_address=args.app_address, remote=args.remote)
    except ServeError as err:
        ap.error(str(err))
    if ports:
        print(f"Starting {args.apps} app process(es) on {args.app_address}:{ports[0]}-{ports[-1]} "
              f"(logs in {room.workdir}) ...", flush=True)
    try:
        room.start()
        if args.no_proxy:
            print(f"{args.apps} app process(es) listen on {args.app_address}:{ports[0]}-{ports[-1]} for a proxy "
                  "elsewhere. Ctrl-C stops everything.", flush=True)
        else:
            extra = f" and {len(args.remote)} on other machines" if args.remote else ""
            print(f"Neural Lens is served on http://{args.host}:{args.port} by {args.apps} processes here{extra} "
                  "behind HAProxy. Ctrl-C stops everything.", flush=True)
        while True:
            time.sleep(1)
            for line in room.watch_once():
                print(line, flush=True)
    except KeyboardInterrupt:
        print("\nStopping the proxy and the apps ...", flush=True)
    except ServeError as err:
        print(f"serve: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        room.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
