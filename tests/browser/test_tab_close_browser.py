"""Closing a real tab ends its session (issue 16): its run stops and frees the server's only training slot,
so the run queued in another tab starts; the closed tab's uploads are removed from the disk. Reloading a
tab is not closing it (issue 15): the reloaded page finds its run again, and the run outlives the old session.

A server of its own with NEURAL_LENS_MAX_RUNS=1 and a 3 s grace period (the default is Streamlit's
reconnect window plus a margin, over two minutes), and a private data folder."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import (
    assert_no_exception,
    free_port,
    open_page,
    start_streamlit,
    stop,
    wait_settled,
)

LONG_RUN = "trainer?trainer_dataset=synthetic-digits&trainer_subset=20000&trainer_epochs=30&trainer_batch=16"
PETS = "trainer?trainer_dataset=synthetic-pets"


@pytest.fixture
def small_server(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {"NEURAL_LENS_MAX_RUNS": "1", "NEURAL_LENS_SESSION_GRACE_S": "3", "NEURAL_LENS_DATA": str(tmp_path / "data")}
    proc = start_streamlit("app.py", port, ARTIFACTS / "streamlit-tab-close.log", extra_env=env)
    yield f"http://127.0.0.1:{port}", tmp_path / "data"
    stop(proc)


def _pets_zip(path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls, colour in (("cat", (220, 40, 30)), ("dog", (30, 40, 220))):
            for i in range(3):
                img = io.BytesIO()
                Image.new("RGB", (40, 30), tuple(c + 5 * i for c in colour)).save(img, "PNG")
                zf.writestr(f"{cls}/{i}.png", img.getvalue())
    path.write_bytes(buf.getvalue())


def _start_long_run(ctx, base: str):
    """A new tab of ``ctx`` on the Trainer that starts a long run and shows it training -> the tab."""
    tab = ctx.new_page()
    open_page(tab, base, LONG_RUN)
    tab.get_by_role("button", name="Start training").click()
    tab.get_by_text("images/s").first.wait_for(timeout=60_000)
    return tab


def test_closing_a_tab_stops_its_run_frees_the_slot_and_removes_its_uploads(small_server, browser, tmp_path):
    base, data = small_server
    leaving = browser.new_context(viewport={"width": 1400, "height": 1000})
    staying = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        # Tab 1 (leaving): a long run takes the only slot.
        runner = _start_long_run(leaving, base)
        assert runner.get_by_text("in the queue").count() == 0

        # Tab 2 (same browser, same leaving context): an upload of its own.
        uploader = leaving.new_page()
        open_page(uploader, base, PETS)
        uploader.get_by_text("Use your own cat and dog photos").click()
        zip_path = tmp_path / "pets.zip"
        _pets_zip(zip_path)
        uploader.locator(".st-key-trainer_cd_zip input[type='file']").set_input_files(str(zip_path))
        # the message is drawn in the expander, which the rerun onto the new dataset closes again
        uploader.get_by_text("3 cats and 3 dogs").wait_for(state="attached", timeout=60_000)
        assert_no_exception(uploader)
        assert any((data / "uploads").iterdir())

        # Tab 3 (another visitor): queued behind the long run, told its place.
        waiter = staying.new_page()
        open_page(waiter, base, LONG_RUN.replace("trainer_epochs=30", "trainer_epochs=1"))
        waiter.get_by_role("button", name="Start training").click()
        waiter.get_by_text("number 1 in the queue").wait_for(timeout=30_000)

        # The first visitor closes their tabs: after the grace period their run stops and the queued run starts.
        leaving.close()
        waiter.get_by_text("images/s").first.wait_for(timeout=45_000)
        assert waiter.get_by_text("in the queue").count() == 0
        wait_settled(waiter)
        assert_no_exception(waiter)
        # ... and their uploads are gone (the session folder, not just its contents).
        uploads = data / "uploads"
        assert not uploads.exists() or not [p for p in uploads.iterdir() if not p.name.startswith(".")]
    finally:
        for ctx in (leaving, staying):
            try:
                ctx.close()
            except Exception:  # noqa: BLE001 - already closed
                pass


def _batches_done(page) -> int:
    text = page.get_by_text("images/s").first.inner_text()
    epoch, batch, per_epoch = map(int, re.search(r"Epoch (\d+)/\d+ · batch (\d+)/(\d+)", text).groups())
    return (epoch - 1) * per_epoch + batch


def test_a_reloaded_tab_finds_its_run_again(small_server, browser):
    base, _ = small_server
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = _start_long_run(ctx, base)
        assert "trainer_run=" in tab.url  # the run's resume code rides in the address

        tab.reload()
        tab.get_by_text("Your run is back").wait_for(timeout=60_000)
        tab.get_by_text("images/s").first.wait_for(timeout=30_000)
        before = _batches_done(tab)
        time.sleep(8)  # past the old session's 3 s grace: its end must not stop the run it handed over
        tab.get_by_text("images/s").first.wait_for(timeout=10_000)
        assert tab.get_by_text("The session that started this run ended").count() == 0
        assert _batches_done(tab) > before  # still training, and this page still follows it
        tab.get_by_role("button", name="Stop", exact=True).click()  # ... and this page can stop it
        tab.get_by_text("Stopped by the user").wait_for(timeout=60_000)
        assert_no_exception(tab)
    finally:
        ctx.close()
