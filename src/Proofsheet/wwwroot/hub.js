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
    if (event.detail.target && event.detail.target.id === "sheet" && draftDirty()) {
      event.detail.shouldSwap = false; // the reviewer is typing; their form stays
    }
  });
  document.addEventListener("htmx:sseError", async () => {
    const answer = await fetch("/hub/tasks", { headers: { "HX-Request": "true" }, redirect: "manual" }).catch(() => null);
    if (answer && answer.status === 401) signedOut();
  });

  // ---- the larger view -----------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const zoom = event.target.closest("button.zoom");
    const dialog = document.getElementById("zoom-dialog");
    if (zoom && dialog) {
      document.getElementById("zoom-image").src = zoom.dataset.full;
      dialog.showModal();
      return;
    }
    if (dialog && (event.target.id === "zoom-close" || event.target === dialog)) {
      dialog.close();
    }
  });
})();
