"""The Trainer page with cats vs dogs in AppTest: source and size, zip uploads good and hostile, augmentation
preview, transfer-learning switches offline, the race, a short run on drawn pets and Grad-CAM on a photo."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explainers import training as tr
from explainers.training.data import BUILTIN_DATASETS
from explainers.training.data import weights as cd
from pages.widgets.trainer.state import STATE_KEY
from tests.app.harness import open_snippets
from tests.unit.test_uploads import _zip

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "trainer.py")


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """A private data folder, an empty torch hub and an unreachable weights URL: no real downloads."""
    monkeypatch.setenv("NEURAL_LENS_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    defaults = {**cd.fetch_resnet18_weights.__kwdefaults__, "url": "http://127.0.0.1:9/resnet18.pth", "timeout": 2}
    monkeypatch.setattr(cd.fetch_resnet18_weights, "__kwdefaults__", defaults)
    yield tmp_path
    tr.stop_all_runs(timeout=30)


def run(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {"trainer_dataset": "synthetic-pets", **(query or {})}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def _png(colour, fmt="PNG", size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt)
    return buf.getvalue()


def test_digits_page_offers_cats_vs_dogs_and_switches():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["trainer_dataset"] = "fashion-mnist"  # not downloaded here: the page asks first (cheap)
    at.run()
    assert not at.exception
    assert not [t for t in at.toggle if t.key == "trainer_cd_flip"]  # nothing of ours on the digits page
    at.button(key="trainer_cd_try").click().run()
    assert not at.exception
    assert at.selectbox(key="trainer_dataset").value == "synthetic-pets"
    assert at.query_params["trainer_dataset"] in ("synthetic-pets", ["synthetic-pets"])
    assert "Cartoon cats" in texts(at.caption)
    assert "These digits" not in texts(at.caption)


def test_picture_size_and_augmentation_controls():
    at = run()
    assert [m for m in at.selectbox(key="trainer_model").options if "ResNet-18" in m]
    at.segmented_control(key="trainer_cd_size").set_value(96).run()
    assert not at.exception
    assert at.selectbox(key="trainer_dataset").value == "synthetic-pets@96"
    at.segmented_control(key="trainer_cd_size").set_value(64).run()
    assert at.selectbox(key="trainer_dataset").value == "synthetic-pets"
    assert "flip + crop" in texts(at.caption)
    for op in ("rotate", "jitter"):
        at.toggle(key=f"trainer_cd_{op}").set_value(True).run()
        assert not at.exception
    at.toggle(key="trainer_cd_flip").set_value(False).run()
    at.slider(key="trainer_cd_preview").set_value(5).run()
    at.button(key="trainer_cd_redraw").click().run()
    assert not at.exception
    assert "crop + rotate + jitter" in texts(at.caption)
    assert at.query_params["trainer_cd_rotate"] in ("1", ["1"]) and at.query_params["trainer_cd_flip"] in ("0", ["0"])
    # All four off: no augmentation at all.
    for op in ("crop", "rotate", "jitter"):
        at.toggle(key=f"trainer_cd_{op}").set_value(False).run()
    assert "Augmentation: **none**" in texts(at.caption)


def test_a_link_with_augmentations_and_a_size_is_reproduced():
    at = run({"trainer_dataset": "synthetic-pets@128", "trainer_cd_jitter": "1", "trainer_cd_flip": "0"})
    assert at.selectbox(key="trainer_dataset").value == "synthetic-pets@128"
    assert at.toggle(key="trainer_cd_jitter").value and not at.toggle(key="trainer_cd_flip").value
    assert at.segmented_control(key="trainer_cd_size").value == 128


def test_zip_upload_good_then_hostile(offline):
    at = run()
    good = _zip({**{f"cats/{i}.png": _png((220, 40, 30)) for i in range(4)},
                 **{f"dogs/{i}.jpg": _png((30, 40, 220), "JPEG") for i in range(4)}})
    at.file_uploader(key="trainer_cd_zip").set_value(("pets.zip", good, "application/zip")).run()
    assert not at.exception
    assert "4 cats and 4 dogs" in texts(at.success)
    key = at.selectbox(key="trainer_dataset").value
    assert key.startswith("folder:uploads/") and key.endswith("@64")
    assert not at.error
    hostile = _zip({"cats/a.png": _png((1, 2, 3)), "dogs/b.png": _png((3, 2, 1)), "../../evil.png": _png((0, 0, 0))})
    at.file_uploader(key="trainer_cd_zip").set_value(("evil.zip", hostile, "application/zip")).run()
    assert not at.exception
    assert "climbs out of its folder" in texts(at.error) and "Nothing was saved" in texts(at.error)
    assert at.selectbox(key="trainer_dataset").value == key  # the good upload stays in use
    uploads = [p for p in (offline / "data" / "uploads").iterdir()]
    assert len(uploads) == 1  # only the good zip was unpacked
    at.file_uploader(key="trainer_cd_zip").set_value(("notes.zip", b"not a zip", "application/zip")).run()
    assert "not a zip archive" in texts(at.error)


def test_a_folder_in_the_data_folder_can_be_chosen(offline):
    root = offline / "data" / "my-pets" / "train"
    root.mkdir(parents=True)
    for i in range(3):
        (root / f"cat.{i}.jpg").write_bytes(_png((200, 50, 50), "JPEG"))
        (root / f"dog.{i}.jpg").write_bytes(_png((50, 50, 200), "JPEG"))
    at = run()
    assert at.selectbox(key="trainer_cd_folder").options == ["my-pets"]
    at.button(key="trainer_cd_use_folder").click().run()
    assert not at.exception
    assert at.selectbox(key="trainer_dataset").value == "folder:my-pets@64"
    # A deep link to a folder that is not there explains itself.
    at = run({"trainer_dataset": "folder:missing@64"})
    assert "no folder" in texts(at.error)


def test_a_folder_in_one_link_is_offered_to_that_visitor_only():
    """A deep link's dataset is parsed into a spec for its session; nothing process-wide changes."""
    builtin = dict(BUILTIN_DATASETS)
    label = "Your pictures: someone-elses (96 px)"
    linked = run({"trainer_dataset": "folder:someone-elses@96"})
    assert label in linked.selectbox(key="trainer_dataset").options
    assert "no folder" in texts(linked.error)
    other = run()  # another visitor, same server process
    assert label not in other.selectbox(key="trainer_dataset").options
    assert dict(BUILTIN_DATASETS) == builtin


def test_transfer_learning_offline_says_why_and_the_race_refuses():
    at = run({"trainer_model": "resnet18_frozen"})
    assert at.toggle(key="trainer_cd_freeze").value
    assert "ImageNet weights (45 MB)" in texts(at.warning)
    at.toggle(key="trainer_cd_freeze").set_value(False).run()
    assert at.selectbox(key="trainer_model").value == "resnet18_transfer"
    at.button(key="trainer_cd_fetch").click().run()
    assert not at.exception
    assert "Transfer learning is unavailable here" in texts(at.error) and "from scratch works offline" in texts(at.error)
    at.button(key="trainer_cd_race_go").click().run()
    assert not at.exception
    assert "Can't start the race" in texts(at.error)


def _wait_done(at: AppTest, key: str, timeout: float = 90.0) -> None:
    t0 = time.monotonic()
    while True:
        runs = getattr(at.session_state[STATE_KEY], key)  # set by the click that started the run(s)
        runs = runs if isinstance(runs, list) else [runs]
        if all(r is not None and r.snapshot().done for r in runs):
            return
        assert time.monotonic() - t0 < timeout, "the run did not finish"
        time.sleep(0.5)


def test_race_with_cached_weights_trains_both(monkeypatch):
    """With (random, locally saved) weights in the cache the race runs both models on the same data."""
    from torchvision.models import resnet18

    path = cd.weights_path()
    path.parent.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), path)
    at = run({"trainer_subset": "200", "trainer_epochs": "1"})
    at.button(key="trainer_cd_race_go").click().run()
    assert not at.exception and not at.error
    _wait_done(at, "race")
    at.run()
    at.run()
    assert not at.exception
    labels = at.selectbox(key="trainer_shown").options
    assert any("Cats-vs-dogs CNN" in lab for lab in labels) and any("ResNet-18" in lab for lab in labels)


def test_short_run_then_grad_cam_on_test_pictures_and_a_photo():
    at = run({"trainer_model": "catsdogs_cnn", "trainer_subset": "200", "trainer_epochs": "1"})
    at.button(key="trainer_start").click().run()
    assert not at.exception and not at.error
    _wait_done(at, "run")
    at.run()
    assert not at.exception
    assert "Grad-CAM" in [t.label for t in at.tabs]
    assert "Draw a digit" not in [t.label for t in at.tabs]  # drawings are 28×28 grey digits
    assert at.selectbox(key="trainer_cd_cam_layer").value == "features.10"
    at.segmented_control(key="trainer_cd_cam_kind").set_value("uncertain")
    at.selectbox(key="trainer_cd_cam_layer").set_value("features.3").run()
    assert not at.exception
    assert any("Unsure (near 50" in c.proto.spec for c in at.get("plotly_chart"))  # the gallery followed
    open_snippets(at)
    assert any("get_submodule('features.3')" in c.value for c in at.code)  # the snippet follows the layer
    photo = np.zeros((90, 120, 3), np.uint8)
    photo[20:70, 30:90] = (200, 120, 40)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG")
    at.file_uploader(key="trainer_cd_cam_upload").set_value(("pet.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error
    at.file_uploader(key="trainer_cd_cam_upload").set_value(("pet.jpg", b"not an image", "image/jpeg")).run()
    assert not at.exception
    assert "not an image" in texts(at.error)
    at.segmented_control(key="trainer_cd_cam_src").set_value("Camera").run()
    at.camera_input(key="trainer_cd_cam_camera").set_value(("shot.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error
