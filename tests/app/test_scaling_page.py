"""The Scaling out page in AppTest: settings from the link, runs started by the button (real worker
processes), results drawn, Stop, a world size too big for the machine, and no workers left behind."""

from __future__ import annotations

import re
import socket

import pytest
from streamlit.testing.v1 import AppTest

from explainers import scaling as sc
from explainers.scaling import launch
from tests.app.harness import (
    lesson_tabs,
    move_panel,
    open_snippets,
    panel,
    panel_value,
    run_page,
)
from tests.unit.scaling_procs import live_children


@pytest.fixture(autouse=True)
def _no_leftovers():
    yield
    sc.stop_all_jobs()
    assert live_children() == []


def run(query: dict | None = None) -> AppTest:
    return run_page("scaling_out.py", query, timeout=120)


def finish(at: AppTest, key: str) -> sc.JobSnapshot:
    """Wait for the part's job as the page's poller would, then rerun the page twice (poll, then draw)."""
    job = at.session_state["scale_jobs"][key]
    assert job.join(300)
    at.run()
    at.run()
    assert not at.exception, at.exception
    return job.snapshot()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def test_default_page_explains_the_machine_and_offers_each_part():
    at = run()
    assert at.title[0].value == "Scaling out"
    assert lesson_tabs(at, "scale_tab")[0] == ["Data parallel", "Model parallel", "Pipelining", "When to use what"]
    assert "This machine:" in at.caption[0].value and "rank" in at.caption[0].value
    assert at.button(key="dp_run").label.startswith("Train with DDP on 2 processes")
    assert panel_value(at, "scale_dp", "scale_world") == 2
    open_snippets(at)
    code = at.code[0].value
    assert "DistributedDataParallel" in code and "init_process_group" in code and "WORLD_SIZE = 2" in code


def test_settings_come_from_the_link_and_bad_values_are_reset():
    at = run({"scale_tab": "Pipelining", "scale_micro": "8", "scale_stages": "3"})
    assert at.button(key="pp_run").label == "Measure it: 2 stages on 2 processes, M = 8"
    assert any(r"\frac{S-1}{M+S-1}" in lx.value for lx in at.latex)
    assert len(at.get("plotly_chart")) == 1  # the bubble curve, before any run
    pipeline = panel(at, "scale_pipeline")  # M, S and the computed timeline (an SVG) in one browser panel
    assert 'class="scale-gantt"' in pipeline["picture"] and "S = 3, M = 8" in pipeline["picture"]
    assert [(c["label"], c["value"], c["options"]) for c in pipeline["controls"]] == [
        ("Micro-batches M", 8, [1, 2, 4, 8, 16, 32]), ("Stages S (computed timeline)", 3, [])]
    open_snippets(at)
    assert "M, BATCH, WIDTH = 8, 256, 512" in at.code[0].value
    move_panel(at, "scale_pipeline", {"scale_micro": 16})  # one step right on the range: the next option
    assert at.button(key="pp_run").label.endswith("M = 16") and at.query_params["scale_micro"] == "16"
    assert "S = 3, M = 16" in panel(at, "scale_pipeline")["picture"] and "M, BATCH, WIDTH = 16," in at.code[0].value
    at = run({"scale_world": "banana", "scale_micro": "7"})
    assert any("not understood" in c.value for c in at.caption)
    assert panel_value(at, "scale_dp", "scale_world") == 2


def test_the_data_parallel_panel_says_what_one_step_does():
    at = run()
    plan = panel(at, "scale_dp")
    assert [c["label"] for c in plan["controls"]] == ["World size N", "Batch per rank B", "Steps", "Learning rate"]
    assert re.findall(r"rank \d+:", plan["picture"]) == ["rank 0:", "rank 1:"] and "N·B = 32 images" in plan["picture"]
    move_panel(at, "scale_dp", {"scale_batch": 64, "scale_steps": 3, "scale_lr": 0.1})
    assert "N·B = 128 images" in panel(at, "scale_dp")["picture"] and "384 images in all" in panel(at, "scale_dp")["picture"]
    assert at.query_params["scale_batch"] == "64" and at.query_params["scale_lr"] == "0.1"
    open_snippets(at)
    code = at.code[0].value  # the snippet follows the panel
    assert "BATCH_PER_RANK = 64" in code and "STEPS = 3" in code and "LR = 0.1" in code
    assert at.button(key="dp_run").label.startswith("Train with DDP on 2 processes")


def test_a_world_size_beyond_the_machine_gets_a_message_not_a_run(monkeypatch):
    laptop = launch.Machine(cpus=2, gpus=0)
    monkeypatch.setattr(launch, "machine", lambda: laptop)
    monkeypatch.setattr(sc, "machine", lambda: laptop)
    at = run({"scale_world": "4"})
    assert any("World size 4 is more than this machine can run" in w.value for w in at.warning)
    at.button(key="dp_run").click().run()
    assert not at.exception
    assert any("World size 4 needs one CPU core per rank" in e.value for e in at.error)
    assert "dp" not in at.session_state["scale_jobs"]


def test_a_rendezvous_port_in_use_gets_a_message_not_a_run():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        at = run({"scale_port": str(port)})
        at.button(key="dp_run").click().run()
    assert not at.exception
    assert any(f"Port {port} is already in use" in e.value for e in at.error)
    assert "dp" not in at.session_state["scale_jobs"]
    at = run({"scale_port": "80"})
    at.button(key="dp_run").click().run()
    assert any("outside 1024-65535" in e.value for e in at.error)


def test_data_parallel_run_draws_gradients_ring_and_losses():
    at = run({"scale_batch": "8", "scale_steps": "2"})
    at.button(key="dp_run").click().run()
    assert not at.exception
    at.session_state["scale_tab"] = "When to use what"  # leave the tab while the workers run
    snap = finish(at, "dp")
    assert snap.status == "finished", snap.message
    rows = at.table[0].value  # the summary is built from the run all the same
    assert set(rows["how"]) == {"measured", "computed"} and rows["what"].str.contains("all-reduce").any()
    assert any("ranks were" in m.value for m in at.markdown)
    at.session_state["scale_tab"] = "Data parallel"
    at.run()
    assert metric(at, "Ranks' p.grad differ by") == "0.0e+00"
    assert float(metric(at, "DDP vs one process")) < 1e-5
    assert len(at.get("plotly_chart")) == 3  # gradients, ring, loss per rank
    assert any("matches the real `all_reduce`" in c.value for c in at.caption)
    at.selectbox(key="scale_layer").set_value("fc1.weight").run()
    assert not at.exception and at.query_params["scale_layer"] == "fc1.weight"
    assert live_children() == []


def test_stop_from_the_page_ends_the_workers():
    at = run({"scale_steps": "20"})
    at.button(key="dp_run").click().run()
    assert not at.exception
    at.button(key="dp_stop").click().run()
    snap = finish(at, "dp")
    assert snap.status == "stopped"
    assert any("every worker process has been ended" in i.value for i in at.info)
    assert live_children() == []


def test_model_parallel_and_pipeline_runs_and_the_summary_table():
    at = run({"scale_tab": "Model parallel"})
    at.button(key="mp_run").click().run()
    assert finish(at, "mp").status == "finished"
    assert float(metric(at, "Split model vs the whole model")) < 1e-6
    table = at.table[0].value
    assert list(table["what"].str.split().str[0]) == ["activation", "gradient", "compute", "compute"]
    open_snippets(at)
    assert len(at.code) == 2 and "nn.Linear(10, 10).to(dev0)" in at.code[0].value
    at.session_state["scale_tab"] = "Pipelining"  # same session: each part's result is kept
    at.run()
    at.button(key="pp_run").click().run()
    assert finish(at, "pp").status == "finished"
    assert len(at.get("plotly_chart")) == 1  # the bubble curve
    assert sum('class="scale-gantt"' in m.value for m in at.markdown) == 1  # the measured timeline (SVG)
    assert 'class="scale-gantt"' in panel(at, "scale_pipeline")["picture"]  # and the computed one, in the panel
    assert any("equal the whole batch's" in c.value for c in at.caption)
    at.session_state["scale_tab"] = "When to use what"
    at.run()
    assert not at.exception
    assert len(at.table) == 2  # model parallel and pipeline (no data-parallel run in this session)
