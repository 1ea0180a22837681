"""A whole CNN: one digit through conv, ReLU, pooling, flatten, a fully connected layer and softmax."""

import streamlit as st

from explainers import cnn, snippets
from explainers.figures import cnn as fig
from explainers.training.cnn import digit_datasets, train_cnn
from pages.widgets.cnn_parts import (
    digit_input,
    digit_network,
    digit_source,
    layer_control,
    unit_panel,
)
from pages.widgets.ui import ShareableState, pytorch_snippet, try_this

SEEDS = list(range(10))


@st.cache_resource(show_spinner=False, max_entries=4)
def trained_cnn(dataset: str, seed: int):
    """One small CNN per (dataset, seed) for the whole server.

    Shared on purpose: a trained, frozen model (eval mode, no gradients, never trained again) is read-only,
    so every session may run images through the same copy. Nothing ever writes to it.
    """
    return train_cnn(dataset, seed)


url = ShareableState("cnn")
st.title("A whole CNN")
st.markdown(
    "A convolutional network is a few simple layers in a row. Here is a small one, trained on digits by this app "
    "a moment ago: **conv → ReLU → max pool**, twice, then **flatten** the maps into one long vector, a **fully "
    "connected** layer gives one score per digit, and **softmax** turns the scores into probabilities. Every number "
    "it computes for your digit is on screen: click any square (or use the sliders) to see where it comes from."
)


@st.fragment
def lesson() -> None:
    """Where the digit comes from and which network reads it: these controls rerun only this."""
    source_col, training_col = st.columns([1.4, 1], gap="large", vertical_alignment="bottom")
    sets = digit_datasets()
    with training_col.popover("The network's training", icon=":material/tune:"):
        dataset = st.selectbox("Trained on", list(sets), format_func=sets.get,
                               key=url.bind("cnn_data", "synthetic-digits", options=list(sets)),
                               help="MNIST appears here once it is in the data folder (the Trainer downloads it).")
        seed = st.selectbox("Training seed", SEEDS, key=url.bind("cnn_seed", 0, options=SEEDS),
                            help="Another seed starts from other random weights: the network learns other filters.")
    with source_col:
        source = digit_source(url)
    with st.spinner(f"Training the small CNN on {sets[dataset]} (a few seconds, once per server)…"):
        trained = trained_cnn(dataset, seed)
    digit(trained, source, sets[dataset], seed)
    url.publish()


# A fragment inside the lesson's: the test image (or a drawing, an upload) reruns the digit, the verdict and the
# network, not the menus above them.
@st.fragment
def digit(trained, source: str, dataset_label: str, seed: int) -> None:
    """The digit, the network's verdict on it and the whole network."""
    left, right = st.columns([1.4, 1], gap="large")
    with left:
        picked = digit_input(url, trained, source)
    layers, base = digit_network(trained.dataset, seed, picked.image, trained)
    probs = layers[-1].activation
    best = int(probs.argmax())
    with right:
        st.metric("Prediction", trained.classes[best], help="The digit with the highest softmax probability.")
        verdict = "" if picked.label is None else (
            "Right. " if picked.label == best else f"Wrong: it is a {trained.classes[picked.label]}. ")
        st.caption(f"Probability {probs[best]:.0%}. {verdict}Trained here on {trained.n_train:,} "
                   f"{dataset_label.lower()} (seed {seed}) × {trained.epochs} epochs in {trained.seconds:.0f} s; "
                   f"{trained.test_accuracy:.0%} right on {len(trained.test_labels):,} test digits it never saw.")

    @st.fragment
    def network() -> None:
        """The whole network on one picture plus the picked unit's arithmetic; its controls rerun only this part."""
        pick = layer_control(url, layers)
        windows = cnn.receptive_windows(*pick)
        unit_panel(layers, pick, windows, base, fig.pick_frames(layers, base, pick, windows))
        pytorch_snippet(lambda: snippets.cnn_snippet(cnn.LAYER_NAMES[pick[0]], *pick[1:], seed=seed,
                                                     index=st.session_state.cnn_index))
        url.publish()  # here too: a fragment rerun must update the link

    network()
    url.publish()


lesson()

st.subheader("Where the parameters are")
st.table(cnn.parameter_rows(), border="horizontal")
st.markdown(cnn.sharing_sentence())
try_this("Pick conv2 and a bright unit, then look at its orange window on the input: 8×8 pixels. Now pick pool2: "
         "10×10. Each layer sees a bigger part of the digit. Then draw a digit badly and watch which maps go quiet.")
url.publish()
