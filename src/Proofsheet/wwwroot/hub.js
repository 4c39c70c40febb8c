// The Hub's only script of its own: a larger view of a candidate in a <dialog>.
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
