/* The student's pages of 就业签约: [data-open] / [data-close] dialogs (each opener is also a
   link to the same step as a page, for a browser without script), the one-time signature drawn
   on the pad (accounts' signature-pad.mjs) kept in the form's hidden "signature" field, and
   the 解约须知 checkbox that enables its submit button. */

function openDialog(dialog) {
  if (!dialog) { return; }
  if (typeof dialog.showModal !== "function") { dialog.setAttribute("open", ""); return; }
  if (dialog.open) { dialog.close(); }
  dialog.showModal();
  const pad = dialog.querySelector("[data-signature-pad]");
  if (pad && pad.signaturePad) { pad.signaturePad.resize(); }
}

function closeDialog(dialog) {
  if (!dialog) { return; }
  if (typeof dialog.close === "function" && dialog.open) { dialog.close(); }
  else { dialog.removeAttribute("open"); }
}

document.addEventListener("click", function (event) {
  const closer = event.target.closest("[data-close]");
  if (closer && closer.closest("dialog")) {
    event.preventDefault();
    closeDialog(closer.closest("dialog"));
    return;
  }
  const opener = event.target.closest("[data-open]");
  const target = opener && document.getElementById(opener.dataset.open);
  if (!target) { return; }
  event.preventDefault();
  const from = opener.closest("dialog");
  if (from) { closeDialog(from); }
  openDialog(target);
});

document.addEventListener("toggle", function (event) {
  const pad = event.target.querySelector && event.target.querySelector("[data-signature-pad]");
  if (pad && pad.signaturePad && event.target.open) { pad.signaturePad.resize(); }
}, true);

document.addEventListener("signaturepad:save", function (event) {
  const box = event.target.closest("[data-em-signature]");
  if (!box) { return; }
  event.preventDefault();  // used for this signing only, not stored under 个人签章
  const pad = event.detail.pad;
  const input = box.querySelector("input[name=signature]");
  if (input) { input.value = pad.toDataURL(); }
  const saved = box.querySelector("[data-em-saved]");
  if (saved) { saved.src = input.value; }
  const note = box.querySelector("[data-em-drawn]");
  if (note) { note.hidden = false; }
});

function syncRules(form) {
  const box = form.querySelector("input[name=rules]");
  const button = form.querySelector("[data-needs-rules]");
  if (box && button) { button.disabled = !box.checked; }
}

document.querySelectorAll("[data-em-rules-form]").forEach(function (form) {
  syncRules(form);
  form.addEventListener("change", function () { syncRules(form); });
});

// On a phone the menu scrolls sideways: keep the current item in view.
const current = document.querySelector(".em-student .side-menu [aria-current=page]");
if (current && current.scrollIntoView) { current.scrollIntoView({ block: "nearest", inline: "nearest" }); }
