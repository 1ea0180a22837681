// The tabs of a lesson page, drawn by the browser: a row of role="tab" buttons that says which part of the lesson
// is open. Only the open part is drawn by the page (each part is a tab Python computes lazily), so a tab here is
// a choice sent to Python, like a click on Streamlit's own lazy tabs; unlike them it is not a container, so a
// fragment below it (a panel the learner moves) reruns and redraws without the browser re-rendering the tabs.
//
// A click, or Enter or Space on a focused tab, shows the tab as open at once and sends its name (a trigger:
// one rerun per choice). Arrow keys, Home and End move the focus along the row (the WAI-ARIA tabs pattern with
// manual activation: moving the focus does not rerun the page). Python's answer says which tab is open
// (data.open), so the browser's Back, a shared link or a refused choice show the truth.
//
// A row wider than the page scrolls sideways, with an arrow at each end that has more tabs behind it (as
// Streamlit's tabs show them): a click on it scrolls the row; the keyboard reaches every tab with the arrow keys.
export default function ({ parentElement, data, setTriggerValue }) {
  const signature = data.names.join("\u0000") + "\u0001" + data.label;
  let bar = parentElement.querySelector(".nl-tabbar");
  if (!bar || bar.dataset.signature !== signature) {
    bar?.nlResize?.disconnect();
    bar?.remove();
    bar = document.createElement("div");
    bar.className = "nl-tabbar";
    bar.dataset.signature = signature;
    const list = build(data, setTriggerValue);
    bar.appendChild(list);
    for (const side of ["left", "right"]) {
      const arrow = document.createElement("button");
      arrow.type = "button";
      arrow.className = `nl-more nl-${side}`;
      arrow.tabIndex = -1;  // for the pointer: the keyboard moves along the tabs themselves
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = side === "left" ? "‹" : "›";
      arrow.addEventListener("click", () => {
        list.scrollBy({ left: (side === "left" ? -1 : 1) * list.clientWidth * 0.6, behavior: "smooth" });
      });
      bar.appendChild(arrow);
    }
    const arrows = () => {
      const end = list.scrollWidth - list.clientWidth;
      bar.classList.toggle("nl-more-left", list.scrollLeft > 1);
      bar.classList.toggle("nl-more-right", list.scrollLeft < end - 1);
    };
    list.addEventListener("scroll", arrows, { passive: true });
    bar.nlResize = new ResizeObserver(arrows);  // the row's width, and its labels' (a web font that loads late)
    for (const el of [list, ...list.children]) bar.nlResize.observe(el);
    parentElement.appendChild(bar);
  }
  select(bar.querySelector(".nl-tabs"), data.open);
}

function build(data, setTriggerValue) {
  const list = document.createElement("div");
  list.className = "nl-tabs";
  list.setAttribute("role", "tablist");
  list.setAttribute("aria-label", data.label);
  for (const name of data.names) {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.className = "nl-tab";
    tab.setAttribute("role", "tab");
    tab.dataset.name = name;
    tab.textContent = name;
    list.appendChild(tab);
  }
  const open = (tab) => {
    if (tab.getAttribute("aria-selected") === "true") return;
    select(list, tab.dataset.name);
    setTriggerValue("open", tab.dataset.name);
  };
  list.addEventListener("click", (event) => {
    const tab = event.target.closest(".nl-tab");
    if (tab) open(tab);
  });
  list.addEventListener("keydown", (event) => {
    const tabs = [...list.querySelectorAll(".nl-tab")];
    const at = tabs.indexOf(event.target.closest(".nl-tab"));
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length];
    for (const tab of tabs) tab.tabIndex = tab === next ? 0 : -1;
    next.focus();
    next.scrollIntoView({ block: "nearest", inline: "nearest" });
  });
  return list;
}

// Show `name` as the open tab; the keyboard reaches the row through it.
function select(list, name) {
  for (const tab of list.querySelectorAll(".nl-tab")) {
    const on = tab.dataset.name === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
}
