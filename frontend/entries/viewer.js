// The incident page's read-only diagram: bpmn-js NavigatedViewer showing the version the
// incident runs on, with the path taken, waiting and overdue tasks and pending timers marked.
// Each marked element gets a <title> (hover) and is focusable with an aria-label (keyboard and
// screen readers), from the page's JSON block. No inline script, no eval: the page's strict
// CSP holds. The text equivalent beside the diagram is plain HTML and works without this file.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "./viewer.css";

import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

const MARKS = [
  ["path", "sf-path"],
  ["waiting", "sf-waiting"],
  ["overdue", "sf-overdue"],
  ["timers", "sf-timer"],
];

function readMarks() {
  const block = document.getElementById("case-marks");
  if (!block) return null;
  try {
    return JSON.parse(block.textContent || "{}");
  } catch (error) {
    return null;
  }
}

function describe(viewer, marks) {
  const registry = viewer.get("elementRegistry");
  const notes = marks.notes || {};
  for (const [id, text] of Object.entries(notes)) {
    const gfx = registry.getGraphics(id);
    if (!gfx) continue;
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = text;
    gfx.insertBefore(title, gfx.firstChild);
    gfx.setAttribute("tabindex", "0");
    gfx.setAttribute("role", "img");
    gfx.setAttribute("aria-label", text);
    gfx.classList.add("sf-focusable");
  }
}

async function show(container) {
  const marks = readMarks();
  const response = await fetch(container.dataset.diagramUrl, {
    credentials: "same-origin",
    headers: { Accept: "application/xml" },
  });
  if (!response.ok) throw new Error(`diagram: ${response.status}`);
  const xml = await response.text();
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(xml);
  const canvas = viewer.get("canvas");
  canvas.zoom("fit-viewport");
  // A whole process fits only at an unreadable size: show it at a readable scale around where
  // the incident is now (drag to pan, Ctrl + scroll to zoom).
  const here = marks && [...(marks.overdue || []), ...(marks.waiting || []), ...(marks.path || []).slice(-1)][0];
  const target = here && viewer.get("elementRegistry").get(here);
  if (target) {
    canvas.zoom(0.9);
    const width = container.clientWidth;
    canvas.scrollToElement(target, { top: 120, bottom: 120, left: width / 2, right: width / 2 });
  }
  if (marks) {
    const registry = viewer.get("elementRegistry");
    for (const [key, marker] of MARKS) {
      for (const id of marks[key] || []) {
        if (registry.get(id)) canvas.addMarker(id, marker);
      }
    }
    describe(viewer, marks);
  }
  container.classList.add("sf-diagram-ready");
  container.setAttribute("data-ready", "true");
}

const container = document.getElementById("case-diagram");
if (container && container.dataset.diagramUrl) {
  show(container).catch(() => {
    container.setAttribute("data-ready", "failed");
    container.textContent = "The diagram could not be shown: the steps are listed beside it in words.";
  });
}
