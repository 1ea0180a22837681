// A panel of range inputs beside (or under) a picture, for a lesson control that must answer within a frame.
//
// The browser moves the thumb and its number at once; the picture is the HTML Python computed from the
// values (Python, tested against PyTorch, stays the only place the maths is done). What the learner did since
// Python last answered everything (the "intent": the ranges moved, and a click on the picture) is sent as
// {seq, values[, click]}. Streamlit keeps only the latest message when a rerun is pending, so each message
// carries the whole intent, not just the last move; ranges the learner did not touch are left out, so a
// value Python set (a click's cell) is never sent back stale. Python answers with the last seq it applied:
//  - an answer to an older message never drags a thumb back (a newer change of ours is on its way);
//  - once every change is answered, Python's values are shown (the browser's Back, a shared link);
//  - one message at a time: while one is unanswered, further moves wait and go together when the answer
//    comes (a mouse drag would otherwise start dozens of reruns a second per learner), or after WAIT_MS.
// A click on a picture marked data-nl-pick="row col" data-nl-grid="rows cols" (a map) moves those two ranges
// to the cell under the pointer, here and at once, like a key press. A click on one marked data-nl-click="name"
// sends {target: name, x, y} (fractions of its width and height): Python decides what it picks, before the
// moves made after the click; such a click starts a new intent (it sets what it picks, so earlier moves of
// those controls are superseded).
// The picture is patched in place (only what changed), so a picture that stays keeps its pixels on screen.
const WAIT_MS = 1000;

export default function ({ parentElement, data, setStateValue }) {
  // Kept on the mount point, so a panel rebuilt for other controls (another "Number of inputs") goes on
  // counting where the old one stopped instead of reusing numbers Python has seen.
  const state = parentElement.nlState ??= { seq: data.seq, answered: data.seq, intent: null, dirty: false, timer: 0 };
  state.seq = Math.max(state.seq, data.seq);
  state.answered = Math.max(state.answered, data.seq);
  state.send = () => {
    clearTimeout(state.timer);
    state.dirty = false;
    state.seq += 1;
    if (state.intent.click && !state.intent.clickSeq) state.intent.clickSeq = state.seq;  // first sent in this one
    const { click, values } = state.intent;
    setStateValue("values", { seq: state.seq, values: Object.fromEntries(values), ...(click ? { click } : {}) });
  };
  // What build() draws from: a panel whose controls differ in any of it is drawn anew.
  const signature = data.layout + "|" + data.controls
    .map((c) => `${c.name}:${c.lo}:${c.hi}:${c.step}:${c.options}:${c.labels}:${c.label}:${c.help}`).join("|");
  let root = parentElement.querySelector(".nl-panel");
  const fresh = !root || root.dataset.signature !== signature;
  if (fresh) {
    // The range a key press rebuilt the panel from (a layer with other ranges) keeps the keyboard's focus.
    const active = parentElement.getRootNode().activeElement;  // the panel may be drawn in a shadow root
    const focused = root?.contains(active) ? active.name : null;
    if (root) root.remove();
    root = build(data, signature, state);
    parentElement.appendChild(root);
    if (focused) root.querySelector(`input[name="${CSS.escape(focused)}"]`)?.focus();
  }
  // A click Python has applied (an answer reached the first message that carried it) is not sent again: a later
  // message repeating it would undo what changed since (the Layer moved by hand, say).
  if (state.intent?.clickSeq && state.answered >= state.intent.clickSeq) state.intent.click = null;
  if (state.answered >= state.seq) {  // every message we sent is answered
    if (state.dirty) state.send();  // what the learner did while the last one was on its way
    else state.intent = null;  // nothing left to say: Python's values are the truth
  }
  if (fresh || (state.answered >= state.seq && !state.dirty)) {
    for (const c of data.controls) {
      const input = root.querySelector(`input[name="${CSS.escape(c.name)}"]`);
      if (fresh || valueOf(input) !== c.value) {
        input.value = String(positionOf(input, c.value));
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
  root.className = data.layout === "side" ? "nl-panel" : `nl-panel nl-${data.layout}`;
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
      <div class="nl-ends" aria-hidden="true"><span></span><span></span></div>`;
    const ends = box.querySelectorAll(".nl-ends span");
    ends[0].textContent = c.options.length ? c.labels[0] : c.lo.toFixed(c.digits);
    ends[1].textContent = c.options.length ? c.labels[c.labels.length - 1] : c.hi.toFixed(c.digits);
    box.querySelector(".nl-label").textContent = c.label;
    const input = box.querySelector("input");
    input.name = c.name;
    input.setAttribute("aria-label", c.label);
    if (c.help) {  // a tooltip on the label and the range, read out as the range's description
      box.querySelector(".nl-head").title = c.help;
      input.title = c.help;
      input.setAttribute("aria-description", c.help);
    }
    input.dataset.digits = c.digits;
    input.nlOptions = c.options;  // a select slider's values: the range counts them, 0 to n - 1
    input.nlLabels = c.labels;
    input.disabled = c.lo >= c.hi;  // one row or column only: nothing to move
    controls.appendChild(box);
  }
  const request = () => {
    state.dirty = true;
    if (state.seq > state.answered) {  // our last message is still unanswered: send with its answer
      clearTimeout(state.timer);
      state.timer = setTimeout(() => state.dirty && state.send(), WAIT_MS);
    } else {
      state.send();
    }
  };
  const record = (input) => {  // a range the learner moved: shown at once, and part of what is sent
    show(input);
    state.intent ??= { click: null, values: new Map() };
    state.intent.values.set(input.name, valueOf(input));
  };
  for (const input of root.querySelectorAll("input")) {
    input.addEventListener("input", () => {
      record(input);
      request();
    });
  }
  root.querySelector(".nl-picture").addEventListener("click", (event) => {
    const target = event.target.closest("[data-nl-pick], [data-nl-click]");
    if (!target) return;
    const box = target.getBoundingClientRect();
    if (!box.width || !box.height) return;
    const x = (event.clientX - box.left) / box.width;
    const y = (event.clientY - box.top) / box.height;
    if (target.dataset.nlPick) {  // a map: the cell under the pointer moves the row and column ranges, here
      const [rows, cols] = target.dataset.nlGrid.split(" ").map(Number);
      const cell = [Math.floor(y * rows), Math.floor(x * cols)];
      target.dataset.nlPick.split(" ").forEach((name, i) => {
        const input = root.querySelector(`input[name="${CSS.escape(name)}"]`);
        if (!input) return;
        input.value = String(cell[i]);  // a range input clamps to its min and max (the far edge: the last cell)
        record(input);
      });
    } else {  // Python decides what the click picks; it is applied before any move made after it
      state.intent = { click: { target: target.dataset.nlClick, x, y }, values: new Map() };
    }
    request();
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

// The value a range stands for: its position, or the option at that position.
function valueOf(input) {
  return input.nlOptions.length ? input.nlOptions[Number(input.value)] : Number(input.value);
}

// Where a value sits on the range: itself, or the position of that option (text: the same text; a number: the
// nearest number).
function positionOf(input, value) {
  const options = input.nlOptions;
  if (!options.length) return value;
  if (typeof value === "string") return Math.max(options.indexOf(value), 0);
  const gap = (o) => (typeof o === "number" ? Math.abs(o - value) : Infinity);
  return options.reduce((best, o, i) => (gap(o) < gap(options[best]) ? i : best), 0);
}

function show(input) {
  const text = input.nlOptions.length ? input.nlLabels[Number(input.value)]
    : Number(input.value).toFixed(Number(input.dataset.digits));
  input.closest(".nl-control").querySelector("output").textContent = text;
  input.setAttribute("aria-valuetext", text);
  const span = Number(input.max) - Number(input.min);
  const fill = span > 0 ? (100 * (Number(input.value) - Number(input.min))) / span : 0;
  input.style.setProperty("--nl-fill", `${fill}%`);
}
