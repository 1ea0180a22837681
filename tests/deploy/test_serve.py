"""deploy/serve.py: the HAProxy configs are valid, N apps share one secret behind a sticky proxy, all stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.serve import (
    COMPOSE_CONFIG,
    COOKIE,
    ROOT,
    Classroom,
    ServeError,
    check_config,
    render_compose_config,
    render_local_config,
)
from tests.deploy.helpers import (
    free_port,
    get,
    proxied_room,
    require_haproxy,
    sticky_value,
)


def _secret_of(pid: int) -> str:
    env = dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v)
    return env.get("STREAMLIT_SERVER_COOKIE_SECRET", "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its entry is left until the parent reaps it.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_compose_config_is_the_rendered_template():
    assert COMPOSE_CONFIG.read_text() == render_compose_config(), (
        "deploy/haproxy-compose.cfg drifted from the template: "
        "python -m deploy.serve --render-compose > deploy/haproxy-compose.cfg"
    )


def test_both_configs_pass_haproxys_own_check(tmp_path):
    require_haproxy()
    local = tmp_path / "local.cfg"
    local.write_text(render_local_config([8601, 8602, 8603], "127.0.0.1:8501"))
    check_config(local)
    check_config(COMPOSE_CONFIG, env={"NEURAL_LENS_COOKIE_SECRET": "test-only"})
    assert local.read_text().count("check") >= 1 and "server app3 127.0.0.1:8603 cookie app3" in local.read_text()


def test_a_broken_config_is_refused_with_haproxys_words(tmp_path):
    require_haproxy()
    bad = tmp_path / "bad.cfg"
    bad.write_text(render_local_config([8601], "127.0.0.1:8501").replace("balance leastconn", "balance nosuchalgo"))
    with pytest.raises(ServeError, match="balance only supports"):
        check_config(bad)


def test_every_app_shares_one_secret_and_each_browser_sticks_to_its_process():
    require_haproxy()
    with proxied_room(2) as room:
        secrets = {_secret_of(app.proc.pid) for app in room.apps}
        assert len(secrets) == 1 and len(secrets.pop()) >= 32
        status, _ = get(room.url + "/_stcore/health")
        assert status == 200
        # Fresh browsers are spread over both processes ...
        assert {sticky_value(room.url) for _ in range(4)} == {"app1", "app2"}
        # ... and one that carries the cookie is not moved (the proxy sets no new one).
        for value in ("app1", "app2"):
            for _ in range(3):
                status, jar = get(room.url + "/", cookie=f"{COOKIE}={value}")
                assert status == 200 and COOKIE not in jar
        pids = [app.proc.pid for app in room.apps] + [room.proxy.pid]
    assert not any(_alive(p) for p in pids)


def test_a_dead_app_is_started_again_and_its_browsers_go_elsewhere_meanwhile():
    require_haproxy()
    with proxied_room(2) as room:
        victim = room.apps[0]
        old = victim.proc.pid
        victim.proc.kill()
        victim.proc.wait()
        # The health check (every 2 s) has not noticed yet: redispatch still answers this browser.
        status, _ = get(room.url + "/_stcore/health", cookie=f"{COOKIE}=app1")
        assert status == 200
        events = room.watch_once()
        assert len(events) == 1 and str(victim.port) in events[0]
        assert victim.proc.pid != old and victim.restarts == 1
        room._wait_healthy([victim])
        assert room.watch_once() == []


def test_refuses_impossible_set_ups_before_starting_anything():
    with pytest.raises(ServeError, match="between 1 and 64"):
        Classroom([])
    with pytest.raises(ServeError, match="through the proxy"):
        Classroom([free_port()], remote=["hostb:8601"])
    with pytest.raises(ServeError, match="HOST:PORT"):
        Classroom([free_port()], port=free_port(), remote=["hostb 8601; rm -rf /"])
    out = subprocess.run([sys.executable, "-m", "deploy.serve", "--apps", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--apps must be between 1 and 64" in out.stderr
    out = subprocess.run([sys.executable, "-m", "deploy.serve", "--no-proxy", "--remote", "hostb:8601"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--remote needs the proxy" in out.stderr


def test_apps_on_other_machines_join_the_proxy_with_their_own_cookies(tmp_path):
    require_haproxy()
    cfg = render_local_config([8601], "*:8501", remote=["10.0.0.12:8601", "hostb.lan:8602"])
    assert "server remote1 10.0.0.12:8601 cookie remote1" in cfg and "server remote2 hostb.lan:8602 cookie remote2" in cfg
    path = tmp_path / "cluster.cfg"
    path.write_text(cfg.replace("hostb.lan", "127.0.0.2"))  # haproxy -c resolves names; this one must exist
    check_config(path)


def test_a_proxy_serves_apps_started_elsewhere():
    require_haproxy()
    with Classroom([free_port()]) as elsewhere:  # stands for host B: apps only, no proxy
        remote = elsewhere.url.removeprefix("http://")
        with proxied_room(1, remote=[remote]) as room:
            assert {sticky_value(room.url) for _ in range(4)} == {"app1", "remote1"}
            status, jar = get(room.url + "/_stcore/health", cookie=f"{COOKIE}=remote1")
            assert status == 200 and COOKIE not in jar


def test_the_command_line_serves_until_ctrl_c_then_leaves_nothing_running():
    require_haproxy()
    port, app_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.serve", "--apps", "1", "--host", "127.0.0.1",
         "--port", str(port), "--app-port", str(app_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "Ctrl-C stops everything" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "serve exited before serving"
            assert time.monotonic() < deadline, "serve did not come up in 120 s"
        assert get(f"http://127.0.0.1:{port}/_stcore/health")[0] == 200
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(children) == 2  # the app and haproxy
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "Stopping the proxy and the apps" in proc.stdout.read()
        time.sleep(0.5)
        assert not any(_alive(p) for p in children)
    finally:
        if proc.poll() is None:
            proc.kill()
