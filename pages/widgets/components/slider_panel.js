// A panel of range inputs beside a picture, for a lesson control that must answer within a frame.
//
// The browser moves the thumb and its number at once; the picture is the HTML Python computed from the
// values (Python, tested against PyTorch, stays the only place the maths is done). Each change is sent as
// {seq, values} with every value shown (Streamlit keeps only the latest message when a rerun is pending, so
// a message must be complete). Python answers with the last seq it applied:
//  - an answer to an older message never drags a thumb back (a newer change of ours is on its way);
//  - once every change is answered, Python's values are shown (the browser's Back, a shared link);
//  - one message at a time: while one is unanswered, a drag's further moves wait and only the latest goes
//    (a mouse drag would otherwise start dozens of reruns a second per learner), or after WAIT_MS anyway.
// A click on an element of the picture marked data-nl-click="name" is sent the same way, with the values, as
// {click: {target: name, x, y}} (fractions of the element's width and height): Python decides what it picks.
// The picture is patched in place (only what changed), so a picture that stays keeps its pixels on screen.
const WAIT_MS = 1000;

export default function ({ parentElement, data, setStateValue }) {
  // Kept on the mount point, so a panel rebuilt for other controls (another "Number of inputs") goes on
  // counting where the old one stopped instead of reusing numbers Python has seen.
  const state = parentElement.nlState ??= { seq: data.seq, answered: data.seq, pending: null, timer: 0 };
  state.seq = Math.max(state.seq, data.seq);
  state.answered = Math.max(state.answered, data.seq);
  state.send = (message) => {
    clearTimeout(state.timer);
    state.pending = null;
    state.seq += 1;
    setStateValue("values", { seq: state.seq, ...message });
  };
  const signature = data.layout + "|" + data.controls.map((c) => `${c.name}:${c.lo}:${c.hi}:${c.step}`).join("|");
  let root = parentElement.querySelector(".nl-panel");
  const fresh = !root || root.dataset.signature !== signature;
  if (fresh) {
    if (root) root.remove();
    root = build(data, signature, state);
    parentElement.appendChild(root);
  }
  if (state.pending && state.answered >= state.seq) state.send(state.pending);  // our last message is answered
  if (fresh || (state.answered >= state.seq && !state.pending)) {
    for (const c of data.controls) {
      const input = root.querySelector(`input[name="${c.name}"]`);
      if (fresh || Number(input.value) !== c.value) {
        input.value = String(c.value);
        show(input);
      }
    }
  }
  const picture = root.querySelector(".nl-picture");
  if (picture.nlHtml !== data.picture) {  // a property, not an attribute: no copy of the HTML in the DOM
    const next = document.createElement("template");
    next.innerHTML = data.picture;
    patch(picture, next.content);
    picture.nlHtml = data.picture;
  }
  root.querySelector(".nl-announce").textContent = data.announce;
}

function build(data, signature, state) {
  const root = document.createElement("div");
  root.className = data.layout === "stack" ? "nl-panel nl-stack" : "nl-panel";
  root.dataset.signature = signature;
  root.style.setProperty("--nl-count", String(Math.max(data.controls.length, 1)));
  root.style.setProperty("--nl-left", `${data.split[0]}fr`);
  root.style.setProperty("--nl-right", `${data.split[1]}fr`);
  // The picture is not a live region (a screen reader would read the whole drawing on every key press);
  // the one-line result is.
  root.innerHTML = `<div class="nl-controls"></div><div class="nl-picture"></div>
    <div class="nl-announce" role="status" aria-live="polite"></div>`;
  const controls = root.querySelector(".nl-controls");
  for (const c of data.controls) {
    const box = document.createElement("div");
    box.className = c.wide ? "nl-control nl-wide" : "nl-control";
    // The number beside the label repeats the slider's own value text: hidden from screen readers.
    box.innerHTML = `<div class="nl-head"><span class="nl-label"></span><output aria-hidden="true"></output></div>
      <input type="range" min="${c.lo}" max="${c.hi}" step="${c.step}">
      <div class="nl-ends" aria-hidden="true"><span>${c.lo.toFixed(c.digits)}</span><span>${c.hi.toFixed(c.digits)}</span></div>`;
    box.querySelector(".nl-label").textContent = c.label;
    const input = box.querySelector("input");
    input.name = c.name;
    input.setAttribute("aria-label", c.label);
    input.dataset.digits = c.digits;
    input.disabled = c.lo >= c.hi;  // one row or column only: nothing to move
    controls.appendChild(box);
  }
  const inputs = [...root.querySelectorAll("input")];
  const submit = (message) => {
    if (state.seq > state.answered) {  // our last message is still unanswered
      state.pending = message;  // sent when the answer comes, or after WAIT_MS (the latest change wins)
      clearTimeout(state.timer);
      state.timer = setTimeout(() => state.pending && state.send(state.pending), WAIT_MS);
    } else {
      state.send(message);
    }
  };
  const values = () => Object.fromEntries(inputs.map((el) => [el.name, Number(el.value)]));
  for (const input of inputs) {
    input.addEventListener("input", () => {
      show(input);
      submit({ values: values() });
    });
  }
  root.querySelector(".nl-picture").addEventListener("click", (event) => {
    const target = event.target.closest("[data-nl-click]");
    if (!target) return;
    const box = target.getBoundingClientRect();
    if (!box.width || !box.height) return;
    const x = (event.clientX - box.left) / box.width;
    const y = (event.clientY - box.top) / box.height;
    submit({ values: values(), click: { target: target.dataset.nlClick, x, y } });
  });
  return root;
}

// Make the children of `into` those of `next` (a parsed template), touching only what differs: a node of
// the same kind is kept and its attributes and text updated, so an <img> whose source stays is not reloaded
// and one whose source changes shows the old pixels until the new ones are decoded.
function patch(into, next) {
  const old = [...into.childNodes];
  const fresh = [...next.childNodes];
  fresh.forEach((node, i) => {
    const have = old[i];
    if (!have) {
      into.appendChild(node);
    } else if (have.nodeType !== node.nodeType || have.nodeName !== node.nodeName) {
      into.replaceChild(node, have);
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      for (const { name } of [...have.attributes]) if (!node.hasAttribute(name)) have.removeAttribute(name);
      for (const { name, value } of [...node.attributes]) {
        if (have.getAttribute(name) !== value) have.setAttribute(name, value);
      }
      patch(have, node);
    } else if (have.nodeValue !== node.nodeValue) {
      have.nodeValue = node.nodeValue;
    }
  });
  for (const extra of old.slice(fresh.length)) extra.remove();
}

function show(input) {
  const text = Number(input.value).toFixed(Number(input.dataset.digits));
  input.closest(".nl-control").querySelector("output").textContent = text;
  input.setAttribute("aria-valuetext", text);
  const span = Number(input.max) - Number(input.min);
  const fill = span > 0 ? (100 * (Number(input.value) - Number(input.min))) / span : 0;
  input.style.setProperty("--nl-fill", `${fill}%`);
}
