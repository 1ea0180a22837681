"""The app shell: navigation, Home, lazy torch, shareable URL state."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.widgets.catalog import HOME, LESSONS, SECTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_home_renders_the_map_with_every_lesson():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Neural Lens"
    text = " ".join(m.value for m in at.markdown)
    assert "Share an exact demo" in text
    captions = " ".join(c.value for c in at.caption)
    for info in LESSONS:
        assert info.blurb in captions


def test_catalog_lists_only_pages_that_exist():
    for info in [HOME, *LESSONS]:
        assert (ROOT / info.path).is_file(), info.path
        assert info.section in SECTIONS
    assert len({i.url_path for i in LESSONS}) == len(LESSONS)


def test_every_lesson_opens_through_the_navigation():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    for info in LESSONS:
        at.switch_page(info.path).run()
        assert not at.exception, info.path
        assert info.title.lower() in at.title[0].value.lower(), (info.title, at.title[0].value)


def test_home_does_not_import_torch():
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=60).run()
        assert not at.exception, at.exception
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_config_is_safe_for_a_classroom():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] <= 10
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["theme"]["base"] == "light"


def test_visitors_see_no_error_details():
    """A shared server shows visitors no traceback, exception type or server path."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["enableXsrfProtection"] is True


def test_no_full_garbage_collection_after_every_rerun():
    """A forced gc.collect(2) per rerun cost ~200 ms of server CPU per slider change with torch loaded."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_the_first_visit_to_a_new_server_clears_uploads_a_dead_server_left(tmp_path, monkeypatch):
    from explainers.training.data import uploads as up
    from pages.widgets.startup import clean_up_after_dead_servers

    monkeypatch.setenv("NEURAL_LENS_DATA", str(tmp_path))
    dead = up.session_folder(tmp_path, "dead-server-tab")
    dead.mkdir(parents=True)
    (dead / up.OWNER_FILE).write_text(f"{os.uname().nodename} 999999999 1")  # a process that is gone
    (dead / "cat.png").write_bytes(b"x")
    clean_up_after_dead_servers.clear()  # as in a freshly started server process
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 20
    while dead.exists() and time.monotonic() < deadline:  # in the background: the first page does not wait
        time.sleep(0.1)
    assert not dead.exists()
