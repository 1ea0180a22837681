"""Offline classroom: no page asks any host but the app's own server for anything (fonts, favicon)."""

from __future__ import annotations

from urllib.parse import urlparse

from pages.widgets.catalog import HOME, LESSONS
from tests.browser.helpers import open_page


def test_no_page_requests_another_host(server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    outside: list[str] = []
    console_errors: list[str] = []
    own = urlparse(server).netloc
    pg.on("request", lambda r: outside.append(r.url)
          if urlparse(r.url).scheme in ("http", "https", "ws", "wss") and urlparse(r.url).netloc != own else None)
    pg.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    for info in [HOME, *LESSONS]:
        open_page(pg, server, "" if info is HOME else info.url_path)
    icon = pg.locator("link[rel~='icon']").first.get_attribute("href")
    ctx.close()
    assert not outside, f"requests to other hosts: {sorted(set(outside))[:5]}"
    assert icon and urlparse(icon).netloc in ("", own), icon
    assert not [e for e in console_errors if "favicon" in e.lower() or "fonts." in e.lower()], console_errors
