"""Scaling out: data parallel (DDP), model parallel and pipelining, run for real on worker processes."""

import streamlit as st

from explainers import scaling as sc
from explainers.figures import scaling as fig
from explainers.scaling import report, snippets
from pages.widgets.lesson_tabs import lesson_tabs
from pages.widgets.scaling import (
    job_panel,
    pipelining,
    report_table,
    result_figure,
    results,
)
from pages.widgets.slider_panel import RangeControl, ShownOutside, slider_panel
from pages.widgets.ui import ShareableState, pytorch_snippet, snippet_open, try_this

TABS = ["Data parallel", "Model parallel", "Pipelining", "When to use what"]
MICRO = [1, 2, 4, 8, 16, 32]
BATCHES = [4, 8, 16, 32, 64]  # images per rank
LRS = [0.05, 0.1, 0.5, 1.0]  # plain SGD: its update is the same maths on N ranks and on one process

url = ShareableState("scale")
st.title("Scaling out")
st.markdown(
    "When one device is not enough there are two ways out. **Data parallel**: every worker holds a whole "
    "copy of the model and a different slice of each batch, and the workers average their gradients "
    "(an *all-reduce*) so every copy takes the same step. **Model parallel**: the model itself is cut "
    "across devices and the activations travel between them; **pipelining** keeps those devices busy at "
    "once. Everything below runs for real: separate worker processes joined by `torch.distributed`."
)
machine = sc.machine()
st.caption(f"This machine: {machine.describe()} Each worker is its own Python process with one torch thread.")
part = lesson_tabs(url, "scale_tab", TABS)


DP_TAB = "scale_dp_tab"  # the data-parallel tab's fragment, by key: a range that changes more than its panel reruns it
DP_SNIPPET = "PyTorch equivalent"  # the tab's snippet (its title)


@st.fragment(key=DP_TAB)
def data_parallel() -> None:
    """N, B, steps, learning rate, model, the run and what it measured: these controls rerun only this."""
    st.radio("Model", list(sc.MODEL_LABELS), format_func=sc.MODEL_LABELS.get, horizontal=True,
             key=url.bind("scale_model", "mlp", options=list(sc.MODEL_LABELS)))
    ddp_ranges()
    plan = _plan()
    world, batch, steps, lr, model = plan.world_size, plan.batch_per_rank, plan.steps, plan.lr, plan.model
    if world > machine.max_world_size:
        st.warning(f"World size {world} is more than this machine can run (one CPU core or GPU per rank: "
                   f"at most {machine.max_world_size}).", icon=":material/memory:")
    with st.expander("Rendezvous (where the ranks meet)", icon=":material/lan:"):
        port = st.number_input("Port (0 = let the OS pick a free one)", 0, 65535, step=1,
                               key=url.bind("scale_port", 0, lo=0, hi=65535))
        st.caption("Rank 0 listens on 127.0.0.1 at this port (MASTER_PORT); the other ranks connect to it. "
                   "Two runs on one port collide, so the lesson picks a free port for each run.")
    dp = job_panel("dp", plan, f"Train with DDP on {world} processes",
                   port=int(port) or None)
    if dp is not None:
        n = dp.world_size
        st.markdown(f"**The run** ({n} ranks × {dp.plan.batch_per_rank} images, {dp.plan.steps} steps, "
                    f"{sc.MODEL_LABELS[dp.plan.model]}, {dp.backend} on {dp.device}). Each rank's first images:")
        st.image(fig.slices_image(dp.images), width=480, caption="One row per rank, rank 0 on top. Labels: "
                 + "; ".join(f"rank {r}: {' '.join(map(str, row[:8]))}" for r, row in enumerate(dp.labels)))
        key = url.bind("scale_layer", dp.param_names[-2])  # default: the last weight matrix
        if st.session_state[key] not in dp.param_names:  # a link from the other model
            st.session_state[key] = dp.param_names[-2]
        layer = st.selectbox("Layer to look inside", dp.param_names, key=key)
        st.plotly_chart(result_figure("grads", dp, layer, build=lambda: fig.gradients_figure(
            dp.flat_local(layer), dp.reduced_grads[layer].reshape(n, -1), layer)), key="scale_grads")
        agree = float(abs(dp.reduced_grads[layer] - dp.reduced_grads[layer][0]).max())
        m1, m2, m3 = st.columns(3)
        m1.metric("Ranks' p.grad differ by", f"{agree:.1e}", help="After the all-reduce, step 1, this layer.")
        m2.metric("DDP vs one process, batch N·B", f"{dp.reference_max_diff:.1e}",
                  help="Largest |weight difference| after the last step against one process that saw all "
                       "N·B images per step; float rounding only.")
        m3.metric("Ranks' weights differ by", f"{dp.ranks_max_diff:.1e}", help="After the last step.")
        st.caption(f"DDP packed the {len(dp.param_names)} gradient tensors into {len(dp.buckets)} bucket(s) "
                   f"({', '.join(f'{t} tensors, {b / 1e3:.0f} kB' for t, b in dp.buckets)}); "
                   "one all-reduce per bucket, started while backward is still running.")
        st.markdown("**How the all-reduce works: a ring**, replayed with these gradients (DDP divides by N first).")
        trace = sc.ring_allreduce(dp.flat_local(layer) / n)
        st.plotly_chart(result_figure("ring", dp, layer, build=lambda: fig.ring_figure(
            [f.counts for f in trace.frames], report.ring_captions(trace), [f.contributors for f in trace.frames])),
                        key="scale_ring")
        st.caption(f"The ring's result matches the real `all_reduce` to {report.ring_matches(trace, dp.reduced_grads[layer].reshape(n, -1)):.1e}; "
                   f"each rank sent {trace.bytes_per_rank / 1e3:.1f} kB of this layer's {trace.result[0].size * 4 / 1e3:.1f} kB.")
        st.plotly_chart(result_figure("loss", dp, build=lambda: fig.loss_per_rank_figure(dp.losses)), key="scale_loss")
    try_this("Change the batch, the steps or the learning rate and run again: 'DDP vs one process' stays at float "
             "rounding, because N ranks with B images each take exactly the step of one process with N·B. "
             "Then look inside fc1.weight: each rank's own gradient differs, every rank applies the same average.")
    pytorch_snippet(lambda: snippets.ddp_script(world, batch, steps, lr, model), title=DP_SNIPPET)
    url.publish()  # a fragment rerun must update the link too
    DP_OUTSIDE.drawn()


def _plan() -> sc.DataParallelPlan:
    """The run N, B, the steps, η and the model in the session describe."""
    s = st.session_state
    return sc.DataParallelPlan(int(s.scale_world), int(s.scale_batch), int(s.scale_steps), float(s.scale_lr),
                               s.scale_model)


def _shown_outside() -> tuple:
    """What the tab shows of N, B, the steps and η outside their panel: N (the Run button, the warning), what the
    run would refuse, and all of them while the snippet is open."""
    plan = _plan()
    return plan.world_size, tuple(plan.problems()), plan if snippet_open(DP_SNIPPET) else None


DP_OUTSIDE = ShownOutside(DP_TAB, _shown_outside)  # the panel reruns alone unless this changes


# A fragment inside the tab's: B, the steps or η rerun their panel alone (the step it draws is all that changes
# until the next run, the snippet closed); N, and anything while the snippet is open, rerun the tab.
@st.fragment
def ddp_ranges() -> None:
    """N, B, the steps and η with what one step does, in one browser-drawn panel: a key press answers at once."""
    url.bind("scale_world", 2, lo=2, hi=4)
    url.bind("scale_batch", 16, options=BATCHES)
    url.bind("scale_steps", 10, lo=1, hi=30)
    url.bind("scale_lr", 0.5, options=LRS)
    state = st.session_state
    world, batch, steps = int(state.scale_world), int(state.scale_batch), int(state.scale_steps)
    lr = float(state.scale_lr)
    slider_panel("scale_dp", [
        RangeControl("scale_world", "World size N", 2, 4, 1,  # "(processes)" in a quarter of 1024 px took 2 lines
                     help=f"How many processes (ranks). This machine allows up to {machine.max_world_size}."),
        RangeControl.choices("scale_batch", "Batch per rank B", BATCHES),
        RangeControl("scale_steps", "Steps", 1, 30, 1),
        RangeControl.choices("scale_lr", "Learning rate", LRS)],
        fig.ddp_step_html(world, batch, steps, lr), layout="stack", rerun=DP_OUTSIDE,
        announce=f"{world} ranks of {batch} images, {steps} steps at learning rate {lr:g}: each the step of one "
                 f"process on {world * batch} images")
    url.publish()  # a rerun of the panel alone must update the link too


if part == TABS[0]:
    st.latex(r"g_r = \nabla_w \frac{1}{B}\sum_{i \in \text{slice}_r} \ell_i \qquad "
             r"g = \frac{1}{N}\sum_{r=0}^{N-1} g_r = \nabla_w \frac{1}{NB}\sum_{i=1}^{NB} \ell_i\;")  # \; keeps the italic subscript inside the box
    data_parallel()
elif part == TABS[1]:
    st.markdown("The tutorial's `ToyModel`: `net1 = Linear(10, 10)` and a ReLU on the first device, "
                "`net2 = Linear(10, 5)` on the second. "
                + ("Here: `cuda:0` and `cuda:1`." if machine.gpus >= 2 else
                   "Without two GPUs the two devices are two processes, and `.to(dev1)` becomes a "
                   "`dist.send` of the activation; backward sends its gradient back the other way."))
    mb = st.slider("Batch", 1, 256, key=url.bind("scale_mp_batch", 20, lo=1, hi=256))
    mp = job_panel("mp", sc.ModelParallelPlan(batch=mb), "Run one training step of the split model")
    if mp is not None:
        st.plotly_chart(fig.placement_figure(mp.placements, [(m.what, m.src, m.dst, f"{tuple(m.shape)}, {m.nbytes} bytes")
                                                             for m in mp.messages]), key="scale_place")
        report_table(report.model_parallel_rows(mp))
        st.metric("Split model vs the whole model on one device (output, loss, every gradient)", f"{mp.max_diff:.1e}")
    try_this("Raise the batch: the activation sent forward grows with it (batch × 10 × 4 bytes), the weights do not move.")
    pytorch_snippet(lambda: snippets.toy_model_script(mb, 0.001),
                    title="PyTorch equivalent: the two-device ToyModel")
    pytorch_snippet(lambda: snippets.two_process_script(mb, 0.001),
                    title="PyTorch equivalent: two processes, send/recv")
elif part == TABS[2]:
    st.markdown("Split the model in stages and the first stage idles while the last works. Cutting the batch into "
                "M micro-batches lets the stages overlap; what stays idle is the **bubble**.")
    st.latex(r"\text{bubble} = \frac{S-1}{M+S-1}")
    pipelining(url, MICRO)
else:
    done = results()
    st.markdown("**Data parallel pays** when each rank's compute is large next to the all-reduce of the gradients "
                "(big batches, compute-heavy layers, fast links). **Split the model** when its weights, gradients "
                "and optimizer state do not fit one device; pipeline it so the devices work at the same time.")
    if "dp" in done:
        st.markdown(f"**Data parallel**, your last run ({done['dp'].world_size} ranks, slowest rank, medians):")
        report_table(report.data_parallel_rows(done["dp"]))
        st.markdown(report.verdict(done["dp"]))
        report_table(report.memory_rows(done["dp"].grad_bytes // 4))
    if "mp" in done:
        st.markdown("**Model parallel**, your last run: what crossed between the devices.")
        report_table(report.model_parallel_rows(done["mp"]))
    if "pp" in done:
        st.markdown("**Pipelining**, your last run: GPipe's formula next to the measured idle share.")
        report_table(report.pipeline_rows(done["pp"]))
    if not done:
        st.info("Run the other tabs first: this table is built from what they measure.", icon=":material/table:")
url.publish()
