"""Through the proxy: several browsers upload pictures and see them served back, each by its own process.

Streamlit keeps a session's uploads and its media files (st.image) in the memory of the process that
runs the session. Behind HAProxy with two app processes, the sticky cookie must send every request of
a browser (page, websocket, upload PUT, /media GET) to one process. Three browsers upload a picture
each on the Convolution page with settings the picture is too small for, so the page shows the upload
itself through st.image (a /media/ URL); the picture must come back with its own size. As a control,
the same media URL fetched with the other process's cookie is not found: the cookie is what makes
uploads work.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deploy.serve import COOKIE
from tests.browser.helpers import assert_no_exception, open_page, wait_settled
from tests.deploy.helpers import proxied_room, require_haproxy

# A 3x3 kernel with dilation 4 spans 9 pixels: every picture below is smaller, so the page keeps
# the uploaded picture on screen (st.image) under a message instead of a feature map.
TOO_SMALL = "convolution?conv_source=Upload&conv_dilation=4&conv_padding=0"
SIZES = [(5, 7), (6, 8), (7, 6)]  # (H, W), one per browser


@pytest.fixture(scope="module")
def proxy():
    require_haproxy()
    with proxied_room(2) as room:
        yield room


def _png(h: int, w: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_uploads_and_media_work_for_every_session_behind_the_proxy(proxy, browser, tmp_path):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in SIZES]
    try:
        pages = [c.new_page() for c in contexts]
        for pg in pages:  # every tab open at once, as in a classroom
            open_page(pg, proxy.url, TOO_SMALL)
        backends = [next(c["value"] for c in ctx.cookies() if c["name"] == COOKIE) for ctx in contexts]
        assert set(backends) == {"app1", "app2"}, backends  # the sessions really are on both processes

        for i, (pg, (h, w)) in enumerate(zip(pages, SIZES)):
            photo = tmp_path / f"photo{i}.png"
            photo.write_bytes(_png(h, w, i))
            pg.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(photo))
        for i, (pg, (h, w)) in enumerate(zip(pages, SIZES)):
            caption = f"photo{i}.png” ("  # its own upload, named in the caption under the picture
            pg.wait_for_function("t => document.body.innerText.includes(t)", arg=caption, timeout=30_000)
            wait_settled(pg)
            img = pg.locator("[data-testid='stImage'] img").first
            src = img.get_attribute("src") or ""
            assert "/media/" in src, src
            pg.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=20_000)
            assert img.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [w, h]
            assert_no_exception(pg)

            # The same picture through the proxy: found with this browser's cookie, not with the other's.
            url = src if src.startswith("http") else proxy.url + src
            assert contexts[i].request.get(url).status == 200
            other = "app2" if backends[i] == "app1" else "app1"
            stray = browser.new_context()
            try:
                stray.add_cookies([{"name": COOKIE, "value": other, "url": proxy.url}])
                assert stray.request.get(url).status == 404
            finally:
                stray.close()
    finally:
        for c in contexts:
            c.close()
