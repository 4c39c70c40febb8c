// The focal-point control of the large view (Hub/FocusPicker.razor): the reviewer clicks the point of the
// image that every crop must keep, or uses the nine buttons; it is saved at once and shown as a marker.
(() => {
  "use strict";
  if (window.proofsheetFocus) return; // the live part redraws the component (and this tag) on every update
  window.proofsheetFocus = true;

  const current = () => {
    const id = document.getElementById("zoom-dialog")?.dataset.imageId;
    return id ? document.querySelector(`#candidates .candidate[data-image-id="${id}"]`) : null;
  };
  const pointOf = (candidate) => {
    const x = parseFloat(candidate?.dataset.focusX ?? "");
    const y = parseFloat(candidate?.dataset.focusY ?? "");
    return Number.isFinite(x) && Number.isFinite(y) ? { x, y } : null;
  };
  const where = (p) => `the point ${Math.round(p.x * 100)}% from the left and ${Math.round(p.y * 100)}% from the top`;
  const clamp = (v) => Math.min(1, Math.max(0, v));

  function show(point, message) {
    const marker = document.getElementById("focus-marker");
    const status = document.getElementById("focus-status");
    if (!marker || !status) return;
    marker.hidden = !point;
    if (point) {
      // Set through the style object, which the Content-Security-Policy allows (a style attribute it would refuse).
      marker.style.left = `${point.x * 100}%`;
      marker.style.top = `${point.y * 100}%`;
    }
    document.querySelectorAll("#focus-form button[data-x]").forEach((b) => {
      b.setAttribute("aria-pressed", point && Number(b.dataset.x) === point.x && Number(b.dataset.y) === point.y ? "true" : "false");
    });
    status.textContent = message ?? (point
      ? `Every crop keeps ${where(point)} (the cross on the image).`
      : "No point chosen yet: the crops keep what looks most important.");
  }

  async function save(point) {
    const candidate = current();
    const form = document.getElementById("focus-form");
    if (!candidate || !form) return;
    const before = pointOf(candidate);
    const body = new FormData(form); // carries the anti-forgery token
    if (point) { body.set("x", point.x.toFixed(4)); body.set("y", point.y.toFixed(4)); } else body.set("clear", "true");
    show(point, "Saving the point…");
    let answer;
    try {
      answer = await fetch(`/hub/images/${candidate.dataset.imageId}/focus`, { method: "POST", body, redirect: "manual" });
    } catch {
      show(before, "The point was not saved: the server could not be reached. Try again.");
      return;
    }
    if (answer.status === 401 || answer.type === "opaqueredirect") {
      show(before, "The point was not saved: you were signed out. Sign in again, then place it again.");
      return;
    }
    if (!answer.ok) {
      show(before, `The point was not saved: ${(await answer.text()) || "try again."}`);
      return;
    }
    if (point) {
      candidate.dataset.focusX = point.x.toFixed(4).replace(/\.?0+$/, "");
      candidate.dataset.focusY = point.y.toFixed(4).replace(/\.?0+$/, "");
    } else {
      delete candidate.dataset.focusX;
      delete candidate.dataset.focusY;
    }
    const saved = pointOf(candidate);
    show(saved, saved ? `Saved: every crop keeps ${where(saved)}.` : "Saved: no point chosen, the crops keep what looks most important.");
  }

  document.addEventListener("zoom:show", () => show(pointOf(current())));
  document.addEventListener("click", (event) => {
    if (!document.getElementById("focus-form")) return;
    if (event.target.id === "zoom-image") {
      const box = event.target.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) return;
      save({ x: clamp((event.clientX - box.left) / box.width), y: clamp((event.clientY - box.top) / box.height) });
      return;
    }
    const cell = event.target.closest("#focus-form button[data-x]");
    if (cell) save({ x: Number(cell.dataset.x), y: Number(cell.dataset.y) });
    else if (event.target.id === "focus-clear") save(null);
  });
})();
