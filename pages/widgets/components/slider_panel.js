// A panel of range inputs beside a picture, for a lesson control that must answer within a frame.
//
// The browser moves the thumb and its number at once; the picture is the HTML Python computed from the
// values (Python, tested against PyTorch, stays the only place the maths is done). Each change is sent as
// {seq, values}; Python echoes the last seq it applied, so an answer to an older change never drags a
// thumb back, while a value Python changed by itself (the browser's Back, a shared link) is shown.
export default function ({ parentElement, data, setStateValue }) {
  const signature = data.controls.map((c) => `${c.name}:${c.lo}:${c.hi}:${c.step}`).join("|");
  let root = parentElement.querySelector(".nl-panel");
  const fresh = !root || root.dataset.signature !== signature;
  if (fresh) {
    if (root) root.remove();
    root = document.createElement("div");
    root.className = "nl-panel";
    root.dataset.signature = signature;
    root.style.setProperty("--nl-left", `${data.split[0]}fr`);
    root.style.setProperty("--nl-right", `${data.split[1]}fr`);
    root.innerHTML = `<div class="nl-controls"></div><div class="nl-picture" aria-live="polite"></div>`;
    const controls = root.querySelector(".nl-controls");
    for (const c of data.controls) {
      const digits = c.digits;
      const box = document.createElement("div");
      box.className = c.wide ? "nl-control nl-wide" : "nl-control";
      box.innerHTML = `<div class="nl-head"><span class="nl-label"></span><output></output></div>
        <input type="range" min="${c.lo}" max="${c.hi}" step="${c.step}">
        <div class="nl-ends"><span>${c.lo.toFixed(digits)}</span><span>${c.hi.toFixed(digits)}</span></div>`;
      box.querySelector(".nl-label").textContent = c.label;
      const input = box.querySelector("input");
      input.name = c.name;
      input.setAttribute("aria-label", c.label);
      input.dataset.digits = digits;
      controls.appendChild(box);
    }
    parentElement.appendChild(root);
    root.seq = data.seq;
    const inputs = [...root.querySelectorAll("input")];
    for (const input of inputs) {
      input.addEventListener("input", () => {
        show(input);
        root.seq += 1;
        const values = Object.fromEntries(inputs.map((el) => [el.name, Number(el.value)]));
        root.send({ seq: root.seq, values });
      });
    }
  }
  root.send = (payload) => setStateValue("values", payload);
  // Python's values win when it has seen every change we sent (or on a fresh panel); otherwise a newer
  // change of ours is still on its way and the thumbs already show it.
  if (fresh || data.seq >= root.seq) {
    root.seq = data.seq;
    for (const c of data.controls) {
      const input = root.querySelector(`input[name="${c.name}"]`);
      if (Number(input.value) !== c.value || fresh) {
        input.value = String(c.value);
        show(input);
      }
    }
  }
  const picture = root.querySelector(".nl-picture");
  if (picture.dataset.html !== data.picture) {
    picture.innerHTML = data.picture;
    picture.dataset.html = data.picture;
  }
}

function show(input) {
  const text = Number(input.value).toFixed(Number(input.dataset.digits));
  input.closest(".nl-control").querySelector("output").textContent = text;
  input.setAttribute("aria-valuetext", text);
  const span = Number(input.max) - Number(input.min);
  input.style.setProperty("--nl-fill", `${(100 * (Number(input.value) - Number(input.min))) / span}%`);
}
