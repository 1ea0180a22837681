"""Data sources are values: every key parses into a frozen DatasetSpec and back, bad keys get a one-line
message, and loading a folder named in a link changes no process-wide table."""

from __future__ import annotations

import dataclasses
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from explainers.training import data
from explainers.training.data import (
    BUILTIN_DATASETS,
    SIZES,
    DatasetSpec,
    clear_cache,
    dataset_menu,
    folder_spec,
    is_available,
    is_catsdogs_key,
    load_dataset,
    parse_spec,
)

KEYS = ["mnist", "fashion-mnist", "synthetic-digits", "cifar-catsdog", "synthetic-pets", "synthetic-pets@96",
        "synthetic-pets@128", "oxford-pets", "oxford-pets@96", "oxford-pets@128", "folder:mine@64",
        "folder:uploads/0123abcd@96", "folder:a/b c@128", "folder:.@64"]


@pytest.mark.parametrize("key", KEYS)
def test_every_key_round_trips(key):
    spec = parse_spec(key)
    assert spec.key == key and parse_spec(spec.key) == spec
    assert spec.label and isinstance(spec.label, str)
    assert spec.is_catsdogs == (key not in ("mnist", "fashion-mnist", "synthetic-digits"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.size = 128  # type: ignore[misc]


def test_builtin_menu_keys_and_labels_are_the_specs():
    assert list(BUILTIN_DATASETS) == ["synthetic-digits", "mnist", "fashion-mnist", "synthetic-pets",
                                      "cifar-catsdog", "oxford-pets"]
    for key, label in BUILTIN_DATASETS.items():
        assert parse_spec(key).label == label
    assert not any(k.startswith("folder:") for k in BUILTIN_DATASETS)


def test_short_forms_parse_to_the_canonical_key():
    assert parse_spec("synthetic-pets@64").key == "synthetic-pets"
    assert parse_spec("oxford-pets@64") == parse_spec("oxford-pets") == DatasetSpec("oxford-pets", 64)
    assert parse_spec("folder:mine").key == "folder:mine@64"  # a folder always shows its size
    assert folder_spec("uploads\\ab12 ", 96).key == "folder:uploads/ab12@96"  # Windows separators, stray space
    assert parse_spec("folder:mine@64").with_size(128).key == "folder:mine@128"
    assert parse_spec("mnist").with_size(128).key == "mnist"  # digits keep 28 px


@pytest.mark.parametrize(("key", "message"), [
    ("", "Unknown dataset ''"),
    ("MNIST", "Unknown dataset 'MNIST'"),
    ("mnist@64", "Unknown dataset"),
    ("cifar-catsdog@64", "Unknown dataset"),
    ("oxford-pets@50", "picture size must be one of 64, 96, 128"),
    ("synthetic-pets@0064", "Unknown dataset"),
    ("synthetic-pets@9999", "picture size"),
    ("mnist\n", "Unknown dataset"),
    ("folder:mine@64\n", "Unknown dataset"),
    ("synthetic-pets@", "Unknown dataset"),
    ("folder:@64", "Choose a folder"),
    ("folder:../etc@64", "without '..'"),
    ("folder:/etc@64", "without '..' or a leading '/'"),
    ("folder:a//b@64", "without '..'"),
    ("folder:a\\b@64", "may not contain"),
    ("folder:a\nb@64", "control characters"),
    ("folder:a@b@64", "Unknown dataset"),
    ("folder:" + "x" * 300 + "@64", "longer than 200"),
    ("x" * 5000, "Unknown dataset 'xxxxx"),
])
def test_bad_keys_are_refused_with_one_line(key, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_spec(key)
    text = str(err.value)
    assert "\n" not in text and len(text) < 400  # a one-line message the page can show as is
    assert not is_catsdogs_key(key) and not is_available(key)


def test_invalid_specs_cannot_be_built():
    for args in [("oxford-pets", 50), ("folder", 64), ("mnist", 64), ("nope",), ("folder", 64, "../x"),
                 ("synthetic-pets", 64, "x")]:
        with pytest.raises(ValueError):
            DatasetSpec(*args)
    with pytest.raises(ValueError, match="picture size"):
        dataclasses.replace(parse_spec("oxford-pets"), size=50)
    with pytest.raises(ValueError):
        parse_spec(None)  # type: ignore[arg-type]


@given(folder=st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\@"),
                               min_size=1, max_size=12).filter(lambda p: p not in (".", "..")),
                       min_size=1, max_size=3),
       size=st.sampled_from(SIZES))
def test_folder_keys_round_trip_for_any_name(folder, size):
    name = "/".join(folder)
    usable = [p.strip() for p in folder if p.strip() not in ("", ".")]
    if not usable or name.strip().startswith("/"):
        with pytest.raises(ValueError):  # no folder named, or an absolute path once trimmed
            folder_spec(name, size)
        return
    spec = folder_spec(name, size)
    assert spec.folder == "/".join(usable)
    assert parse_spec(spec.key) == spec and spec.key.startswith("folder:") and spec.key.endswith(f"@{size}")


@pytest.mark.parametrize("name", [" ", ".", "./", " . / ", "", "\\"])
def test_a_blank_folder_name_never_means_the_whole_data_folder(name):
    with pytest.raises(ValueError):
        folder_spec(name)


def test_the_menu_adds_only_for_the_asker():
    menu = dataset_menu("folder:mine@96", "bogus", None, 3, "mnist")
    assert list(menu)[: len(BUILTIN_DATASETS)] == list(BUILTIN_DATASETS)
    assert menu["folder:mine@96"] == "Your pictures: mine (96 px)" and "bogus" not in menu
    assert dataset_menu() == dict(BUILTIN_DATASETS)  # the next visitor sees the static menu
    with pytest.raises(TypeError):
        BUILTIN_DATASETS["folder:evil@64"] = "Evil"  # type: ignore[index]


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 20), colour).save(buf, format="PNG")
    return buf.getvalue()


def _public_tables() -> dict[str, object]:
    """Every module-level dict, list or set in the data package and models: what a registration would grow."""
    import sys

    out = {}
    for name, module in sorted(sys.modules.items()):
        if not (name.startswith("explainers.training.data") or name.startswith("models")) or module is None:
            continue
        for attr, value in vars(module).items():
            if isinstance(value, (dict, list, set)) and not attr.startswith("__"):
                out[f"{name}.{attr}"] = repr(value)
    return out


def test_loading_a_folder_from_a_link_changes_no_global_state(tmp_path):
    """A key read from a URL is parsed and loaded; menus, registries and module tables stay as they were."""
    for cls, colour in (("cat", (220, 40, 30)), ("dog", (30, 40, 220))):
        (tmp_path / "linked" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "linked" / cls / f"{i}.png").write_bytes(_png(colour))
    clear_cache()
    load_dataset("synthetic-pets", tmp_path)  # import every loader module first
    before_menu, before_tables = dict(BUILTIN_DATASETS), _public_tables()
    url_value = "folder:linked@64"  # as st.query_params would hand it over
    ds = load_dataset(url_value, tmp_path)
    assert ds.name == url_value and len(ds.train_y) + len(ds.test_y) == 6
    assert dict(BUILTIN_DATASETS) == before_menu and url_value not in BUILTIN_DATASETS
    assert dataset_menu() == before_menu  # a second session, with no link, sees nothing new
    assert _public_tables() == before_tables
    assert not hasattr(data, "register_dataset") and not hasattr(data, "ensure_registered")
    clear_cache()
