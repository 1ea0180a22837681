"""Shared by the deployment tests: is HAProxy here, and a Classroom on free 127.0.0.1 ports."""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest

from deploy.serve import COOKIE, Classroom, haproxy_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_haproxy() -> None:
    """Skip (locally) or fail (CI=true) when Debian's haproxy is missing, with the fix in the reason."""
    if haproxy_binary() is None:
        reason = "haproxy is not installed (run `make haproxy` or apt-get install haproxy)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"proxy tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


def proxied_room(n_apps: int, **kw) -> Classroom:
    """An unstarted Classroom: n_apps app processes behind HAProxy, all on free 127.0.0.1 ports."""
    return Classroom([free_port() for _ in range(n_apps)], port=free_port(), host="127.0.0.1", **kw)


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str]]:
    """GET url (optionally with a Cookie header) -> (status, {cookie name: value} it set)."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=20) as r:
        r.read()
        jar = dict(c.split(";", 1)[0].split("=", 1) for c in r.headers.get_all("Set-Cookie") or [])
        return r.status, jar


def sticky_value(url: str) -> str:
    """The sticky cookie's value a fresh browser gets from the proxy."""
    return get(url)[1][COOKIE]
