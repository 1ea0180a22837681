"""The command line: train (MNIST files, a folder of photos, missing data), download, and the speed benchmark."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from explainers import training as tr
from explainers.training import cli
from explainers.training.cli import main as cli_main
from explainers.training.data import synthetic_digits, write_idx_dataset


@pytest.fixture(autouse=True)
def _clean_runs():
    yield
    tr.stop_all_runs()


def test_cli_trains_from_mnist_files_and_prints_one_json_line(tmp_path, capsys):
    ds = synthetic_digits(400, 100, seed=3)
    write_idx_dataset(tmp_path, ds.train_x[:, 0].numpy(), ds.train_y.numpy(), ds.test_x[:, 0].numpy(), ds.test_y.numpy())
    code = cli_main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--model", "mlp", "--epochs", "1",
                    "--batch-size", "50", "--json", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert {"test_accuracy", "train_seconds", "images_per_second", "epochs", "device"} <= set(result)
    assert result["epochs"] == 1 and result["device"] == "cpu" and 0 <= result["test_accuracy"] <= 1
    assert not result["synthetic"] and "epoch 1" in err
    assert math.isfinite(result["train_seconds"])


def test_cli_reports_missing_data(tmp_path, capsys):
    assert cli_main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--no-download"]) == 3
    assert "could not be downloaded" in capsys.readouterr().err


def test_speed_benchmark_runs_end_to_end_on_a_few_images(tmp_path, capsys):
    from benchmarks import trainer_speed

    out = tmp_path / "bench.json"
    assert trainer_speed.main(["--n", "256", "--models", "mlp", "--device", "cpu", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["model"] for r in rows] == ["mlp"]
    assert rows[0]["classic_s"] > 0 and rows[0]["ours_s"] > 0
    assert rows[0]["ratio"] == pytest.approx(rows[0]["ours_s"] / rows[0]["classic_s"])
    assert "mlp" in capsys.readouterr().out


def _photo_folder(root, name="mypets", per_class=12, size=40):
    """cat/ and dog/ folders of generated PNG photos: warm noisy cats, cool noisy dogs with a bright blob."""
    rng = np.random.default_rng(0)
    for cls, base in (("cat", (200, 120, 60)), ("dog", (60, 110, 200))):
        folder = root / name / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = np.clip(np.array(base) + rng.normal(0, 35, (size, size, 3)), 0, 255).astype(np.uint8)
            if cls == "dog":
                img[10:20, 10:30] = 255
            Image.fromarray(img).save(folder / f"{cls}{i}.png")


def test_cli_trains_on_a_folder_of_photos(tmp_path, capsys, monkeypatch):
    _photo_folder(tmp_path)
    monkeypatch.setenv("NEURAL_LENS_DATA", str(tmp_path))  # the folder is found under the data folder
    code = cli_main(["train", "--dataset", "folder:mypets@64", "--model", "catsdogs_cnn", "--epochs", "2",
                     "--batch-size", "8", "--lr", "3e-3", "--val-fraction", "0", "--device", "cpu", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["status"] == "finished" and result["dataset"] == "folder:mypets@64"
    assert result["model"] == "catsdogs_cnn" and result["epochs"] == 2 and not result["synthetic"]
    assert 0 <= result["test_accuracy"] <= 1 and math.isfinite(result["test_loss"])
    assert [e["epoch"] for e in result["history"]] == [1, 2]
    assert result["config"]["dataset"] == "folder:mypets@64" and result["config"]["epochs"] == 2


@pytest.mark.parametrize("key", ["no-such-dataset", "synthetic-pets@17"])
def test_cli_refuses_a_bad_dataset_key_with_one_line(capsys, key):
    assert cli_main(["train", "--dataset", key]) == 2
    err = capsys.readouterr().err.strip()
    assert err and len(err.splitlines()) == 1


def test_cli_download_hands_the_names_to_the_data_package(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    calls, ok = [], {"mnist": True, "resnet18": True}

    class FakeData:
        @staticmethod
        def download(names, root, progress):
            calls.append((names, root))
            progress(names[0], 0.5, "halfway")
            return [SimpleNamespace(name=n, ok=ok[n], message=f"{n} done" if ok[n] else f"{n} offline") for n in names]

    monkeypatch.setattr(cli, "_data", lambda: FakeData)
    assert cli_main(["download", "mnist", "resnet18", "--data-dir", str(tmp_path)]) == 0
    assert calls == [(["mnist", "resnet18"], tmp_path)]
    err = capsys.readouterr().err
    assert "mnist:   50% halfway" in err and "resnet18: resnet18 done" in err
    ok["resnet18"] = False
    assert cli_main(["download", "mnist", "resnet18", "--data-dir", str(tmp_path)]) == 1
    assert "resnet18: resnet18 offline" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["download", "imagenet"])



def test_two_cli_runs_with_one_seed_print_the_same_numbers(tmp_path):
    """Issue 12 item 7: separate processes, same --seed and --threads -> the same history and accuracy."""
    import os
    import subprocess
    import sys

    ds = synthetic_digits(300, 100, seed=5)
    write_idx_dataset(tmp_path, ds.train_x[:, 0].numpy(), ds.train_y.numpy(), ds.test_x[:, 0].numpy(), ds.test_y.numpy())
    cmd = [sys.executable, "-m", "explainers.training", "train", "--dataset", "mnist", "--data-dir", str(tmp_path),
           "--model", "fast_cnn", "--epochs", "2", "--batch-size", "32", "--augment", "--dropout", "0.3",
           "--scheduler", "onecycle", "--lr", "0.003", "--seed", "3", "--threads", "1", "--device", "cpu", "--json"]
    env = {**os.environ, "NEURAL_LENS_DATA": str(tmp_path)}
    runs = [json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, timeout=300)
                       .stdout.strip().splitlines()[-1]) for _ in range(2)]
    keys = ("train_loss", "train_acc", "val_loss", "val_acc")
    assert [[e[k] for k in keys] for e in runs[0]["history"]] == [[e[k] for k in keys] for e in runs[1]["history"]]
    assert runs[0]["test_accuracy"] == runs[1]["test_accuracy"] and runs[0]["test_loss"] == runs[1]["test_loss"]


def test_importing_the_engine_package_loads_no_torch():
    """Pages import explainers.training at the top; torch loads only when a run, sweep or inspection starts."""
    import subprocess
    import sys

    code = "import sys, explainers.training; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
