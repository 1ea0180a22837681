"""Trainer: train a real PyTorch network live and look inside it (panels in pages/widgets/trainer/)."""

import streamlit as st

from explainers.figures import training as ft
from explainers.training.objective import loss_formula
from pages.widgets.trainer import catsdogs as cd
from pages.widgets.trainer import experiment as experiment
from pages.widgets.trainer import results as res
from pages.widgets.trainer import run as rn
from pages.widgets.trainer import setup as setup
from pages.widgets.trainer.state import FoundLR, Keys, TrainerState
from pages.widgets.ui import (
    ShareableState,
    lazy_expander,
    pytorch_snippet,
    run_safely,
    try_this,
)

url = ShareableState("trainer")
state = TrainerState.of()
st.title("Trainer")
if rn.take_back(state):  # the page was reloaded (or reopened) while its run trained
    st.toast("Your run is back: it kept training while the page reloaded.", icon=":material/replay:")
st.markdown(
    "Train a real PyTorch network on handwritten digits (or on cats and dogs) and watch it learn: the loss "
    "falls, the test images turn green, and the first layer's filters grow from noise into edge and stroke "
    "detectors. Then open it up: what does it confuse, what does each layer see, and does it read **your** "
    "handwriting?"
)

form = setup.FormRun()  # the settings form reruns alone when only it shows what changed
with st.container(border=True):
    spec, ds = setup.choose_dataset(url, state)
    cd.data_panel(state, spec)
    if ds is not None:
        setup.settings(url, state, ds, form)
config = cd.refine(url, state, ds, form.config)  # augmentation preview, transfer learning, race
form.config = config  # refined (cats vs dogs): the page reruns whole for any of their settings
url.publish()
if ds is None or config is None:
    st.stop()
objective = loss_formula(config.optimizer, config.weight_decay, config.l1)  # the chosen optimizer's, under the settings
st.latex(objective.latex)
st.caption(f"What the code minimises with these settings. {objective.note}")

run = state.run
active = state.active
buttons = st.container(horizontal=True)  # buttons as wide as their labels, wrapping on a projector
# Start trains the settings the form shows when it is pressed: after a rerun of the form alone, not this run's.
buttons.button("Start training", type="primary", icon=":material/play_arrow:", disabled=active,
               key="trainer_start", on_click=lambda: rn.start(state, form.config, ds))
buttons.button("Stop", icon=":material/stop:", disabled=not active, on_click=rn.stop, args=(state,),
               key="trainer_stop")
find = buttons.button("Find a learning rate", icon=":material/search:", key="trainer_lrf_go", disabled=active,
                      help="Takes a training slot like a run, so it waits while your run trains.")
buttons.button("Overfit on purpose", icon=":material/science:", on_click=setup.apply_preset, args=(state, "overfit"),
               key="trainer_preset_overfit", help=setup.OVERFIT_HELP)
buttons.button("Recommended settings", icon=":material/recommend:", on_click=setup.apply_preset,
               args=(state, "recommended"), key="trainer_preset_recommended")
experimenting = state.preset == "overfit" or bool(state.experiment)
if experimenting:
    if state.preset == "overfit":
        st.info(setup.OVERFIT_HELP, icon=":material/science:")
    experiment.section(state, config, ds)  # L2, dropout, augmentation, early stopping vs none
if state.start_error:
    st.error(f"Can't start training: {state.start_error}", icon=":material/error:")
if active:
    st.caption("Changes to the settings apply to the next run; this one goes on, even if you visit another page.")

if find:
    with st.spinner("Sweeping the learning rate from 1e-6 to 1 over 100 batches, on a copy of the model…"):
        found = run_safely(lambda: rn.find_lr(config, ds), what="run the learning-rate finder")
    if found is not None:
        state.found_lr = FoundLR(found, setup.describe_settings(config))
if state.found_lr is not None:
    found = state.found_lr.result
    with st.container(border=True):
        c1, c2 = st.columns([3, 1])
        c1.plotly_chart(ft.lr_finder_figure(found.lrs, found.losses, found.suggested_lr), key="trainer_lrf_fig")
        c2.markdown(f"The loss falls fastest at about **{found.suggested_lr:.2g}**: a good learning rate "
                    "is near there, well before the loss shoots up.")
        c2.caption(f"Measured for {state.found_lr.measured_for}.")
        c2.button(f"Use {setup.nearest(setup.LRS, found.suggested_lr):g}", on_click=setup.use_lr,
                  args=(state, found.suggested_lr), type="primary", key="trainer_lrf_use", icon=":material/check:")

with lazy_expander("Model card: layers, output shapes, parameters", key=Keys.MODEL_CARD,
                   icon=":material/table_view:") as card_open:  # a closed table costs a change nothing
    if card_open:
        card = setup.model_card(config.model, ds.channels, ds.image_size, ds.num_classes)
        st.dataframe([{"layer": r.layer, "type": r.type, "output shape": r.output_shape, "parameters": r.parameters,
                       "multiply-adds": r.mult_adds} for r in card.rows], hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="localized") for c in ("parameters", "multiply-adds")})
        st.caption(f"{card.parameters:,} parameters · {card.mult_adds:,} multiply-adds per image "
                   f"(output shapes from a real forward pass of a {ds.channels}×{ds.image_size}×{ds.image_size} image).")

if run is not None:
    st.subheader("Training" if active else "Last run")
    st.fragment(rn.live_panel, run_every=rn.poll_every([run.snapshot()]))(state, run)

recs = state.records_for(ds.name)
st.subheader("Inside the trained network")
if not recs:
    st.caption(f"Results appear here when a run finishes. {setup.quick_look(ds)}")
labels = [r.label for r in recs]
if state.shown_for != len(labels):  # a new run: show it
    state.shown_for = len(labels)
    state.put(Keys.SHOWN, labels[-1] if labels else None)
shown = st.selectbox("Show the results of", labels, key=Keys.SHOWN) if recs else None
rec = next((r for r in recs if r.label == shown), None)
drawable = ds.channels == 1 and ds.image_size == 28  # a drawing is prepared like MNIST: 28×28 grey
names = ["Confusion matrix", "Mistakes", "Filters", "Feature maps", "Histograms", *(["Draw a digit"] * drawable),
         "Compare runs", "Save / load weights"] + cd.tab_names(ds)
if rec is not None:  # the open tab is in the link, like every setting
    tabs = dict(zip(names, st.tabs(names, key=url.bind(Keys.TAB, names[0], options=names), on_change="rerun")))
else:
    tabs = {"Save / load weights": st.container()}
if rec is not None:
    with tabs["Confusion matrix"]:
        res.confusion_tab(state, rec, ds)
    with tabs["Mistakes"]:
        res.mistakes_tab(rec, ds)
    with tabs["Filters"]:
        res.filters_tab(rec)
    drawn = None
    if drawable:
        with tabs["Draw a digit"]:
            drawn = res.drawing_tab(state, rec, ds)  # this rerun's digit, else the session's last one
    with tabs["Feature maps"]:
        res.feature_maps_tab(rec, ds, drawn)
    with tabs["Histograms"]:
        res.histograms_tab(rec)
    with tabs["Compare runs"]:
        res.compare_tab(state)
    cd.render_tabs(tabs, state, rec, ds)  # Grad-CAM for cats vs dogs
with tabs["Save / load weights"]:
    loaded = res.weights_tab(state, rec, ds, config)
    if loaded is not None:
        state.add(loaded)
        st.rerun()

try_this("Press **Overfit on purpose** and train (well under a minute on a laptop): training accuracy reaches "
         "100% while validation accuracy stalls near 80%. Switch on augmentation, train again and compare "
         "the runs: the gap closes. Then try dropout, weight decay or early stopping instead.")
snippet_open = pytorch_snippet(lambda: setup.snippet(config, ds))
# Where the page shows every setting, any change of one reruns the page, not the form alone.
form.shows_all = snippet_open or experimenting or cd.is_pets(ds)
form.finished = True  # drawn to its end: from now on the form may rerun alone
url.publish()  # again: the results tab and views bound above
