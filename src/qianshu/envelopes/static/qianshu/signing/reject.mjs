/* What the signing page shares with the stand-alone 拒签 page: reason chips, [data-open] and
   [data-close] dialog buttons, and 拒签 sent with fetch so that a missing reason keeps the
   dialog open. */
import { $, closeDialog, openDialog } from "./dom.mjs";

export function setupDialogButtons() {
  document.addEventListener("click", function (event) {
    const chip = event.target.closest("[data-reason]");
    if (chip) {
      const form = chip.closest("form");
      const box = form && form.querySelector("textarea[name=reason]");
      if (box) { box.value = chip.dataset.reason; box.focus(); }
      return;
    }
    const closer = event.target.closest("[data-close]");
    if (closer) { closeDialog(closer.closest("dialog")); return; }
    const opener = event.target.closest("[data-open]");
    const target = opener && document.getElementById(opener.dataset.open);
    if (target) { event.preventDefault(); openDialog(target); }
  });
}

export function setupReject(T) {
  const rejectForm = $("#dlg-reject form");
  if (!rejectForm || !window.fetch) { return; }
  const rejectError = $("#sg-reject-error");
  rejectForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    const reason = rejectForm.querySelector("textarea[name=reason]");
    if (!reason.value.trim()) {
      rejectError.textContent = T.reasonNeeded;
      rejectError.hidden = false;
      reason.focus();
      return;
    }
    const button = rejectForm.querySelector("[type=submit]");
    button.disabled = true;
    let result;
    try {
      const response = await fetch(rejectForm.action, {
        method: "POST", body: new FormData(rejectForm), credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
      });
      result = await response.json();
    } catch (e) { result = { ok: false, message: T.network }; }
    if (result.ok) { window.location.assign(result.redirect); return; }
    button.disabled = false;
    rejectError.textContent = result.message || T.network;
    rejectError.hidden = false;
  });
}
