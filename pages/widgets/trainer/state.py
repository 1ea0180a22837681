"""Everything the Trainer page keeps between reruns, in one typed object.

Two kinds of state live in ``st.session_state``:
- widget values, under their widget keys, which are also the URL keys (``Keys``): Streamlit owns
  these, so a panel reads a value as its widget's return value, and writes one only through
  ``TrainerState.put`` (presets, "Use it" buttons);
- everything else (the run, finished runs, the LR finder's answer, the race, ...) as the fields of
  ``TrainerState``, one dataclass under the single session key ``"trainer_state"``.
Panels take a TrainerState (or plain values) as arguments; none relies on another having run first.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from explainers.training import (
        EvalResult,
        LRFinderResult,
        RunSnapshot,
        TrainConfig,
        TrainRun,
    )
    from explainers.training.actions import Network
    from explainers.training.data import ImageDataset

STATE_KEY = "trainer_state"
MAX_RECORDS = 8  # finished runs kept per session (each holds its model)


class Keys:
    """Widget keys whose values the page reads or sets (also the URL keys of the shareable ones)."""

    DATASET = "trainer_dataset"
    MODEL = "trainer_model"
    OPTIMIZER = "trainer_optimizer"
    LR = "trainer_lr"
    BATCH = "trainer_batch"
    EPOCHS = "trainer_epochs"
    WEIGHT_DECAY = "trainer_wd"
    L1 = "trainer_l1"
    DROPOUT = "trainer_dropout"
    SCHEDULER = "trainer_scheduler"
    PATIENCE = "trainer_patience"
    AUGMENT = "trainer_augment"
    SUBSET = "trainer_subset"
    SEED = "trainer_seed"
    DEVICE = "trainer_device"
    VAL = "trainer_val"
    SHOWN = "trainer_shown"
    TAB = "trainer_tab"  # the open results tab
    MODEL_CARD = "trainer_model_card"  # the model card's expander: open or closed
    CELL_TRUE = "trainer_cell_true"
    CELL_PRED = "trainer_cell_pred"
    COMPARE_RUNS = "trainer_compare_runs"
    CD_SIZE = "trainer_cd_size"
    CD_FOLDER = "trainer_cd_folder"
    CD_ZIP = "trainer_cd_zip"
    CD_FREEZE = "trainer_cd_freeze"
    CD_CAM_LAYER = "trainer_cd_cam_layer"

    @staticmethod
    def augmentation(op: str) -> str:
        """The toggle of one cats-vs-dogs augmentation ("flip" -> "trainer_cd_flip")."""
        return f"trainer_cd_{op}"


class SessionToken:
    """Owner of this session's runs: when the session ends it is garbage-collected and its runs stop."""


@dataclass(frozen=True)
class RunRecord:
    """A finished run (or loaded weights) with everything the results views need."""

    id: int  # the TrainRun's id; negative for loaded weights
    label: str  # "Run 2: Fast CNN, adam lr 0.002"
    config: TrainConfig
    model: Network
    result: EvalResult
    snapshot: RunSnapshot | None  # None for loaded weights: no curves
    dataset: str  # the dataset's key (TrainConfig.dataset, ImageDataset.name)


@dataclass(frozen=True)
class FoundLR:
    """The learning-rate finder's answer and the settings it was measured for."""

    result: LRFinderResult
    measured_for: str  # "fast_cnn, adam, batch 128"


@dataclass(frozen=True)
class Notice:
    """A message to show once on the next rerun (set by a callback, which cannot draw)."""

    kind: Literal["error", "success"]
    text: str


@dataclass(eq=False)
class TrainerState:
    """The Trainer page's memory for one session (see the module docstring)."""

    widgets: MutableMapping[str, Any] = field(repr=False)  # st.session_state (a dict in unit tests)
    token: SessionToken = field(default_factory=SessionToken)
    run: TrainRun | None = None  # the latest run, running or not
    start_error: str | None = None  # why the last Start was refused
    archived_run: int | None = None  # id of the last run whose end the page has handled
    records: list[RunRecord] = field(default_factory=list)  # finished runs, oldest first
    runs_numbered: int = 0  # how many runs got a "Run n" label
    preset: str | None = None  # the preset applied last ("overfit" shows its explanation)
    found_lr: FoundLR | None = None
    drawn: np.ndarray | None = None  # the last drawing prepared like MNIST, (1, 28, 28) uint8
    fetch_requested: set[str] = field(default_factory=set)  # datasets the learner asked to download
    loaded_file: str | None = None  # file_id of the weights upload already turned into a record
    race: list[TrainRun] = field(default_factory=list)  # scratch vs transfer
    race_archived: bool = False
    polling_queued: bool = False  # the live panel was last drawn for a queued run (slow polling)
    race_polling_queued: bool = False  # likewise for the race panel
    experiment: list[TrainRun] = field(default_factory=list)  # the regularisation experiment's arms started so far
    experiment_configs: list[TrainConfig] = field(default_factory=list)  # every arm's config, in order
    preview_seed: int = 0  # "New draws" of the augmentation preview
    zip_notice: Notice | None = None
    shown_for: int = -1  # number of records the "Show the results of" box was last reset for
    compared_for: int = -1  # likewise for the comparison's runs
    cell_for_run: int | None = None  # the record whose worst confusion cell the boxes were set to

    @classmethod
    def of(cls, session: MutableMapping[str, Any] | None = None) -> TrainerState:
        """This session's state (created on first use); ``session`` defaults to st.session_state."""
        if session is None:
            import streamlit as st

            session = st.session_state
        state = session.get(STATE_KEY)
        if not isinstance(state, cls):
            state = cls(session)
            session[STATE_KEY] = state
        return state

    # -- widget values

    def get(self, key: str, default: Any = None) -> Any:
        """The value of a widget key (``default`` when it has none yet)."""
        return self.widgets.get(key, default)

    def put(self, key: str, value: Any) -> None:
        """Set a widget's value (only before the widget is drawn in this rerun, e.g. in a callback)."""
        self.widgets[key] = value

    def put_all(self, values: dict[str, Any]) -> None:
        """Set several widget values at once (a preset)."""
        for key, value in values.items():
            self.widgets[key] = value

    # -- runs

    @property
    def active(self) -> bool:
        """True while the latest run is queued or training."""
        return self.run is not None and not self.run.snapshot().done

    @property
    def race_active(self) -> bool:
        """True while either run of the race is queued or training."""
        return any(not r.snapshot().done for r in self.race)

    @property
    def experiment_active(self) -> bool:
        """True while an arm of the regularisation experiment is queued or training, or is still to start."""
        snaps = [r.snapshot() for r in self.experiment]
        if any(not s.done for s in snaps):
            return True
        return bool(snaps) and len(snaps) < len(self.experiment_configs) and all(s.status == "finished" for s in snaps)

    def archive(self, run: TrainRun) -> RunRecord | None:
        """Keep a finished run once, numbered and labelled, so it can be compared -> its record (None if kept before)."""
        if run.result is None or any(r.id == run.id for r in self.records):
            return None
        self.runs_numbered += 1
        label = describe(run.config, getattr(run, "dataset", None))  # the MLP's sizes follow its data
        record = RunRecord(run.id, f"Run {self.runs_numbered}: {label}", run.config, run.model,
                           run.result, run.snapshot(), run.config.dataset)
        self.add(record)
        return record

    def add(self, record: RunRecord) -> None:
        """Keep a record (finished run or loaded weights), dropping the oldest beyond MAX_RECORDS."""
        self.records.append(record)
        del self.records[:-MAX_RECORDS]

    def records_for(self, dataset: str) -> list[RunRecord]:
        """Records of one dataset, oldest first."""
        return [r for r in self.records if r.dataset == dataset]


def model_label(model: str, channels: int, image_size: int, num_classes: int) -> str:
    """The menu label of a model for this data: the MLP names its real sizes ("MLP 12288-64-64-64-2")."""
    from models import MODELS

    if model == "mlp":  # the registry's label is MNIST's 784-...-10; the layer sizes follow the data
        return f"MLP {channels * image_size * image_size}-64-64-64-{num_classes}"
    return MODELS[model].label


def describe(config: TrainConfig, dataset: ImageDataset | None = None) -> str:
    """Short label of a config for legends and tables: "Fast CNN, adam lr 0.002, 500 imgs, wd 0.001".

    With the dataset, the MLP's label names its real input and output sizes."""
    from models import MODELS

    reg = []
    if config.weight_decay:
        reg.append(f"wd {config.weight_decay:g}")
    if config.l1:
        reg.append(f"L1 {config.l1:g}")
    if config.dropout:
        reg.append(f"drop {config.dropout:g}")
    if config.augment:
        reg.append("aug")
    if config.patience:
        reg.append(f"early stop {config.patience}")
    subset = f", {config.subset} imgs" if config.subset else ""
    label = MODELS[config.model].label if dataset is None else model_label(
        config.model, dataset.channels, dataset.image_size, dataset.num_classes)
    return f"{label.split(' (')[0]}, {config.optimizer} lr {config.lr:g}{subset}" + (
        f", {', '.join(reg)}" if reg else "")
