// The Hub's own script: keeps what the reviewer typed, handles an ended session, and the larger view.
(() => {
  "use strict";

  // ---- the address bar -----------------------------------------------------------------------
  // A page drawn in answer to a form post shows its own address again, so a reload is a plain GET.
  const canonical = document.body.dataset.canonical;
  if (canonical && location.pathname !== canonical) {
    history.replaceState(null, "", canonical);
  } else if (canonical && location.search.includes("saved=true")) {
    history.replaceState(null, "", canonical);
  }

  // ---- nothing typed is lost -----------------------------------------------------------------
  const editForm = () => document.getElementById("edit-form");
  const fieldsOf = (form) => Array.from(form.elements).filter((el) => el.name && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "hidden")));
  const isDirty = (el) => el.value !== el.defaultValue;
  const draftDirty = () => { const f = editForm(); return !!f && fieldsOf(f).some(isDirty); };
  const typedElsewhere = () => Array.from(document.querySelectorAll("#reject-form textarea, #more-form textarea"))
    .some((el) => isDirty(el));
  let submitting = false;

  document.addEventListener("submit", (event) => {
    const form = event.target;
    submitting = true;
    const edits = editForm();
    if (!edits) return;
    if (form !== edits && form.classList.contains("carries-draft") && draftDirty()) {
      // The unsaved draft rides along and is saved first, in the same request.
      form.querySelectorAll("input[data-carried]").forEach((el) => el.remove());
      for (const el of edits.elements) {
        if (!el.name || el.name === "__RequestVerificationToken" || el.name.startsWith("__")) continue;
        if (form.querySelector(`[name="${el.name}"]:not([data-carried])`)) continue;
        const copy = document.createElement("input");
        copy.type = "hidden"; copy.name = el.name; copy.value = el.value; copy.dataset.carried = "";
        form.appendChild(copy);
      }
    }
    if (draftDirty()) stash(edits);
  }, true);

  window.addEventListener("beforeunload", (event) => {
    if (!submitting && (draftDirty() || typedElsewhere())) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.addEventListener("pageshow", () => { submitting = false; });

  // Kept for this tab until the task page is seen again: a post refused because the session had
  // ended comes back here after signing in, with the text put back.
  const stashKey = (form) => "proofsheet:draft:" + form.dataset.task;
  const stampOf = (form) => form.querySelector("input[name=draft_stamp]")?.value;
  function stash(form) {
    const values = {};
    fieldsOf(form).forEach((el) => { values[el.name] = el.value; });
    try { sessionStorage.setItem(stashKey(form), JSON.stringify({ stamp: stampOf(form), values })); } catch { /* storage full or off */ }
  }
  function restore() {
    const form = editForm();
    if (!form) return;
    const key = stashKey(form);
    const saved = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
    if (!saved) return;
    const { stamp, values } = JSON.parse(saved);
    if (stamp !== stampOf(form)) return; // saved since, or someone else saved: the page says so
    let restored = false;
    fieldsOf(form).forEach((el) => {
      if (el.name in values && values[el.name] !== el.value) { el.value = values[el.name]; restored = true; }
    });
    if (restored) {
      const note = document.createElement("p");
      note.className = "notice"; note.id = "restored-notice"; note.setAttribute("role", "status");
      note.textContent = "Your unsaved edits were put back into the form; press Save changes to keep them.";
      form.prepend(note);
    }
  }
  restore();

  // ---- live parts: never overwrite typing, never draw a login page inside the page -----------
  function signedOut() {
    const notice = document.getElementById("session-notice");
    if (!notice) return;
    if (draftDirty()) stash(editForm());
    const back = location.pathname + location.search;
    document.getElementById("sign-in-again").href = "/hub/login?expired=1&returnUrl=" + encodeURIComponent(back);
    notice.hidden = false;
    document.body.classList.add("signed-out");
  }

  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr && (xhr.status === 401 || xhr.getResponseHeader("X-Proofsheet-Signed-Out"))) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      signedOut();
      return;
    }
    const target = event.detail.target;
    if (target && target.id === "sheet" && (draftDirty() || editForm()?.contains(document.activeElement))) {
      // The reviewer is typing, or about to (a field has the focus): their form stays. A change saved by
      // someone else meanwhile is caught when they save (both versions are shown then).
      event.detail.shouldSwap = false;
    }
    if (target && target.id === "live" && event.detail.shouldSwap) liveState = captureTyping(target);
  });

  // The live part (images, approve, reject) is drawn again on every change; what the reviewer typed in its
  // forms (a reason, a note, a time) and which of its sections they opened are put back after each redraw.
  let liveState = null;
  const typedFields = (root) => Array.from(root.querySelectorAll("textarea[id], input[id]"))
    .filter((el) => el.type === "checkbox" ? el.checked !== el.defaultChecked : el.type !== "hidden" && el.type !== "radio" && el.value !== el.defaultValue);
  const detailsKey = (d) => d.querySelector("[id]")?.id ?? d.className;
  function captureTyping(root) {
    return {
      fields: typedFields(root).map((el) => [el.id, el.type === "checkbox" ? el.checked : el.value]),
      open: Array.from(root.querySelectorAll("details[open]")).map(detailsKey),
    };
  }
  document.addEventListener("htmx:afterSwap", (event) => {
    if (!liveState || event.detail.target?.id !== "live") return;
    const { fields, open } = liveState;
    liveState = null;
    for (const [id, value] of fields) {
      const el = document.getElementById(id);
      if (!el || el.disabled) continue;
      if (el.type === "checkbox") el.checked = value; else el.value = value;
    }
    event.detail.target.querySelectorAll("details").forEach((d) => { if (open.includes(detailsKey(d))) d.open = true; });
  });
  document.addEventListener("htmx:sseError", async () => {
    const answer = await fetch("/hub/tasks", { headers: { "HX-Request": "true" }, redirect: "manual" }).catch(() => null);
    if (answer && answer.status === 401) signedOut();
  });

  // ---- choosing: the larger view, side by side, the shortlist ---------------------------------
  const candidates = () => Array.from(document.querySelectorAll("#candidates .candidate"))
    .filter((c) => !(document.body.classList.contains("shortlist-only") && c.dataset.shortlisted !== "true"));
  let zoomAt = -1;

  function choose(candidate) {
    const radio = candidate && candidate.querySelector("input[type=radio]");
    if (!radio || radio.disabled) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true })); // htmx saves the choice
    document.querySelectorAll("#candidates .candidate.selected").forEach((c) => c.classList.remove("selected"));
    candidate.classList.add("selected");
  }

  function showZoom(index) {
    const list = candidates();
    const dialog = document.getElementById("zoom-dialog");
    if (!dialog || list.length === 0) return;
    zoomAt = (index + list.length) % list.length;
    const c = list[zoomAt];
    const img = document.getElementById("zoom-image");
    img.src = c.dataset.full;
    img.alt = `Image ${c.dataset.index}: ${c.dataset.prompt || ""}`;
    document.getElementById("zoom-number").textContent = c.dataset.index;
    document.getElementById("zoom-position").textContent = `${zoomAt + 1} of ${list.length}`;
    dialog.dataset.imageId = c.dataset.imageId;
    if (!dialog.open) dialog.showModal();
    dialog.dispatchEvent(new CustomEvent("zoom:show", { bubbles: true })); // focus.js shows this image's focal point
  }

  function openCompare() {
    const ids = Array.from(document.querySelectorAll("#candidates .compare-box:checked")).map((b) => b.value);
    const dialog = document.getElementById("compare-dialog");
    if (!dialog || ids.length < 2 || ids.length > 4) return;
    const grid = document.getElementById("compare-grid");
    grid.replaceChildren();
    grid.dataset.count = String(ids.length);
    for (const id of ids) {
      const c = document.querySelector(`#candidates .candidate[data-image-id="${id}"]`);
      if (!c) continue;
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = c.dataset.full;
      img.alt = `Image ${c.dataset.index}: ${c.dataset.prompt || ""}`;
      const caption = document.createElement("figcaption");
      caption.textContent = `Image ${c.dataset.index}`;
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "compare-choose";
      pick.textContent = `Choose image ${c.dataset.index}`;
      pick.dataset.imageId = id;
      pick.disabled = !!c.querySelector("input[type=radio]")?.disabled;
      caption.appendChild(pick);
      figure.append(img, caption);
      grid.appendChild(figure);
    }
    dialog.showModal();
  }

  function compareCount() {
    const n = document.querySelectorAll("#candidates .compare-box:checked").length;
    const button = document.getElementById("compare-open");
    if (!button) return;
    button.disabled = n < 2 || n > 4;
    button.textContent = n >= 2 ? `Compare ${n} side by side` : "Compare side by side";
    document.getElementById("compare-count").textContent = n > 4 ? "Compare at most 4 at once." : n < 2 ? "Tick 2 to 4 images to compare them." : "";
  }

  document.addEventListener("change", (event) => {
    if (event.target.classList.contains("compare-box")) compareCount();
    if (event.target.id === "shortlist-only") document.body.classList.toggle("shortlist-only", event.target.checked);
  });

  document.addEventListener("click", (event) => {
    const zoom = event.target.closest("button.zoom");
    if (zoom) {
      const list = candidates();
      showZoom(list.indexOf(zoom.closest(".candidate")));
      return;
    }
    const id = event.target.id;
    if (id === "zoom-prev") showZoom(zoomAt - 1);
    else if (id === "zoom-next") showZoom(zoomAt + 1);
    else if (id === "zoom-choose") { choose(candidates()[zoomAt]); document.getElementById("zoom-dialog").close(); }
    else if (id === "zoom-close") document.getElementById("zoom-dialog").close();
    else if (id === "compare-open") openCompare();
    else if (id === "compare-close") document.getElementById("compare-dialog").close();
    else if (event.target.classList.contains("compare-choose")) {
      choose(document.querySelector(`#candidates .candidate[data-image-id="${event.target.dataset.imageId}"]`));
      document.getElementById("compare-dialog").close();
    } else if (event.target.tagName === "DIALOG") event.target.close();
  });

  // A live refresh redraws the candidates: keep the filter and the ticked boxes as they were.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "live") {
      const shortlist = document.getElementById("shortlist-only");
      if (shortlist) shortlist.checked = document.body.classList.contains("shortlist-only");
      compareCount();
    }
    queueTitle();
  });

  // ---- the queue: its count in the tab title -------------------------------------------------
  const baseTitle = document.title;
  function queueTitle() {
    const count = document.getElementById("queue-count");
    if (count) document.title = `(${count.dataset.count}) ${baseTitle}`;
  }
  queueTitle();
  document.addEventListener("htmx:beforeSwap", (event) => {
    // Something ticked or typed in the queue stays: the refresh waits until it is used.
    const rows = document.getElementById("queue-rows");
    if (event.detail.target === rows && (rows.querySelector("input[type=checkbox]:checked, details[open]")
      || Array.from(rows.querySelectorAll("input[name=feedback]")).some((i) => i.value !== ""))) {
      event.detail.shouldSwap = false;
    }
  });

  // ---- stars: shown at once, whatever the live stream is doing ------------------------------------
  document.addEventListener("htmx:afterRequest", (event) => {
    const star = event.detail.elt;
    if (!star.classList || !star.classList.contains("star") || !event.detail.successful) return;
    const candidate = star.closest(".candidate");
    const stars = Number(JSON.parse(star.getAttribute("hx-vals")).stars);
    candidate.dataset.stars = String(stars);
    candidate.dataset.shortlisted = stars >= 4 ? "true" : "false";
    candidate.querySelectorAll(".star").forEach((s, i) => {
      s.classList.toggle("on", i < stars);
      s.setAttribute("aria-pressed", i < stars ? "true" : "false");
    });
  });
  // The page says when its live updates are connected: the stream's first message (sent once the
  // server listens) has redrawn the live part. The tests wait for this rather than guess.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "live") document.body.dataset.live = "connected";
  });

  // ---- keyboard ------------------------------------------------------------------------------
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) && !(el.type === "radio" || el.type === "checkbox");
  function openAndFocus(detailsSelector, fieldId) {
    const details = document.querySelector(detailsSelector);
    if (!details) return;
    details.open = true;
    document.getElementById(fieldId)?.focus();
  }
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const zoomOpen = document.getElementById("zoom-dialog")?.open;
    const task = document.getElementById("live")?.dataset.task;
    const key = event.key;
    if (/^[1-9]$/.test(key)) {
      const c = document.querySelector(`#candidates .candidate[data-index="${key}"]`);
      if (c) { choose(c); c.querySelector("input[type=radio]")?.focus(); event.preventDefault(); }
    } else if ((key === "ArrowRight" || key === "ArrowLeft") && zoomOpen) {
      showZoom(zoomAt + (key === "ArrowRight" ? 1 : -1));
      event.preventDefault();
    } else if ((key === "ArrowRight" || key === "ArrowLeft") && event.target.type !== "radio") {
      const list = candidates();
      const current = list.findIndex((c) => c.querySelector("input[type=radio]")?.checked);
      const next = list[(current + (key === "ArrowRight" ? 1 : -1) + list.length) % list.length];
      if (next) { choose(next); next.querySelector("input[type=radio]")?.focus(); event.preventDefault(); }
    } else if (key === "Enter" && event.target.type === "radio") {
      showZoom(candidates().indexOf(event.target.closest(".candidate")));
      event.preventDefault();
    } else if (key === "c") {
      openCompare();
    } else if (key === "a") {
      const approve = document.querySelector("#approve-form button[type=submit]:not([name])");
      if (approve && !approve.disabled) { document.getElementById("zoom-dialog")?.close(); approve.click(); }
    } else if (key === "r") {
      openAndFocus("details.reject", "reject-feedback"); event.preventDefault();
    } else if (key === "g") {
      openAndFocus("details.more", "more-prompt"); event.preventDefault();
    } else if ((key === "j" || key === "k") && task) {
      location.href = key === "j" ? `/hub/next?after=${task}` : `/hub/prev?before=${task}`;
    } else if (key === "?") {
      document.getElementById("keys-dialog")?.showModal();
    }
  });

  // ---- times in the reader's time zone -------------------------------------------------------
  // The server writes every time as UTC in <time class="when" datetime="…">; here it becomes the
  // reader's own: relative when recent ("3 min ago"), the exact local moment on hover (title).
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
  const exact = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  const dated = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const steps = [["second", 60], ["minute", 60], ["hour", 24], ["day", 7]];
  function showTime(el) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) return;
    el.title = exact.format(at);
    if (el.classList.contains("exact")) {
      el.textContent = dated.format(at) + " (your time)";
      return;
    }
    let amount = (at.getTime() - Date.now()) / 1000;
    for (const [unit, size] of steps) {
      if (Math.abs(amount) < size) {
        el.textContent = relative.format(Math.round(amount), unit);
        return;
      }
      amount /= size;
    }
    el.textContent = dated.format(at);
  }
  const showTimes = (root) => (root || document).querySelectorAll("time.when").forEach(showTime);
  showTimes();
  document.addEventListener("htmx:load", (event) => showTimes(event.detail.elt));
  setInterval(showTimes, 30000);
})();

// A scheduled time is picked in the reader's own zone: send that zone's offset (east of UTC, in
// minutes) for the chosen date, so daylight saving on that day is right; the server stores UTC.
(() => {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const local = form.querySelector?.("input.publish-at");
    const offset = form.querySelector?.("input.tz-offset");
    if (!local || !offset || !local.value) return;
    const when = new Date(local.value);
    if (!Number.isNaN(when.getTime())) offset.value = String(-when.getTimezoneOffset());
  }, true);
})();
