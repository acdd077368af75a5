/* Choosing the signature or seal and stamping with it: 一键盖章 fills every field it goes in;
   with no fields (指定位置签署) it is placed on the page on screen. The dialogs: saved
   signatures (#dlg-saved), the one-time handwritten pad (#dlg-pad, accounts' signature-pad.mjs)
   and the seal choice with 普通章 / 骑缝章 and its pages (#dlg-seal).

   Sets ctx.startStamping. */
import { format } from "../format.mjs";
import { $, $all, closeDialog, openDialog } from "./dom.mjs";
import { addCross, addFree } from "./placing.mjs";

function stampAll(ctx) {
  const count = ctx.state.stampAll();
  ctx.state.save();
  ctx.render();
  const next = ctx.state.remaining();
  if (next.length) { ctx.toast(format(ctx.T.fillText, { label: next[0].label })); ctx.goNext(); }
  else if (count) { ctx.toast(format(ctx.T.stamped, { summary: ctx.summary() })); }
}

function useStamp(ctx) {
  if (ctx.D.fields.length) { stampAll(ctx); }
  else if (ctx.D.free) { addFree(ctx, ctx.state.isSeal ? "seal" : "signature"); }
}

// The ink's bounding box with a small margin, so the signature fills its field.
function trimmed(canvas) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  const pixels = ctx.getImageData(0, 0, w, h).data;
  let x1 = w, y1 = h, x2 = -1, y2 = -1;
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      if (pixels[(y * w + x) * 4 + 3] > 8) {
        if (x < x1) { x1 = x; } if (x > x2) { x2 = x; }
        if (y < y1) { y1 = y; } if (y > y2) { y2 = y; }
      }
    }
  }
  if (x2 < 0) { return canvas.toDataURL("image/png"); }
  const margin = Math.round(Math.max(x2 - x1, y2 - y1) * 0.04) + 2;
  x1 = Math.max(0, x1 - margin); y1 = Math.max(0, y1 - margin);
  x2 = Math.min(w - 1, x2 + margin); y2 = Math.min(h - 1, y2 + margin);
  const out = document.createElement("canvas");
  out.width = x2 - x1 + 1;
  out.height = y2 - y1 + 1;
  out.getContext("2d").drawImage(canvas, x1, y1, out.width, out.height, 0, 0, out.width, out.height);
  return out.toDataURL("image/png");
}

function setupSignatures(ctx, openPad) {
  const D = ctx.D;
  const useSaved = $("#sg-use-saved");
  if (useSaved) {
    useSaved.addEventListener("click", function () {
      const checked = $("input[name=sg-signature]:checked") || $("input[name=sg-signature]");
      const found = D.signatures.filter(function (s) { return String(s.id) === checked.value; })[0] || D.signatures[0];
      ctx.state.useSaved(found);
      closeDialog($("#dlg-saved"));
      useStamp(ctx);
    });
  }
  const redraw = $("#sg-redraw");
  if (redraw) {
    redraw.addEventListener("click", function () { closeDialog($("#dlg-saved")); openPad(); });
  }
  const padRoot = $("#dlg-pad [data-signature-pad]");
  if (padRoot) {
    padRoot.addEventListener("signaturepad:save", function (event) {
      event.preventDefault();  // a one-time signature: used for this signing, not stored
      const pad = event.detail.pad;
      ctx.state.useDrawn(trimmed(pad.canvas));
      pad.clear();
      closeDialog($("#dlg-pad"));
      useStamp(ctx);
    });
  }
}

// Seal choice (and, for free placement, 普通章 / 骑缝章 with the pages).
function setupSeals(ctx) {
  const sealDialog = $("#dlg-seal");
  if (!sealDialog) { return; }
  const D = ctx.D;
  const crossBox = $("#sg-cross-pages");
  const fromInput = $("#sg-cross-from"), toInput = $("#sg-cross-to");
  const sealError = $("#sg-seal-error");
  function crossDoc() { const page = ctx.visiblePage(); return page ? ctx.state.docs[page.dataset.doc] : null; }
  $all("input[name=sg-seal-mode]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      const cross = radio.value === "cross_page_seal" && radio.checked;
      if (crossBox) { crossBox.hidden = !cross; }
      const doc = crossDoc();
      if (cross && doc && fromInput && toInput) {
        fromInput.max = toInput.max = String(doc.pages.length);
        fromInput.value = "1";
        toInput.value = String(doc.pages.length);
      }
    });
  });
  $("#sg-use-seal").addEventListener("click", function () {
    const checked = $("input[name=sg-seal]:checked") || $("input[name=sg-seal]");
    ctx.state.seal = D.seals.filter(function (s) { return checked && s.uuid === checked.value; })[0] || D.seals[0];
    const mode = $("input[name=sg-seal-mode]:checked");
    if (mode && mode.value === "cross_page_seal") {
      const doc = crossDoc();
      const from = parseInt(fromInput.value, 10) - 1, to = parseInt(toInput.value, 10) - 1;
      if (!doc || !(from >= 0 && to > from && to < doc.pages.length)) {
        sealError.textContent = ctx.T.crossPages;
        sealError.hidden = false;
        return;
      }
      sealError.hidden = true;
      closeDialog(sealDialog);
      addCross(ctx, from, to);
      return;
    }
    closeDialog(sealDialog);
    useStamp(ctx);
    ctx.render();  // a changed seal shows on every stamped field
  });
}

export function setupStamping(ctx) {
  const D = ctx.D;
  const padRoot = $("#dlg-pad [data-signature-pad]");
  function openPad() {
    openDialog($("#dlg-pad"));
    window.requestAnimationFrame(function () {
      if (padRoot && padRoot.signaturePad) { padRoot.signaturePad.resize(); }
    });
  }
  ctx.startStamping = function () {
    if (ctx.state.isSeal) {
      if (D.seals.length === 1 && !D.free) { ctx.state.seal = D.seals[0]; useStamp(ctx); return; }
      openDialog($("#dlg-seal"));
      return;
    }
    if (D.signatures.length) { openDialog($("#dlg-saved")); }
    else { openPad(); }
  };
  const stampButton = $("#sg-stamp");
  if (stampButton) { stampButton.addEventListener("click", function () { ctx.startStamping(); }); }
  setupSignatures(ctx, openPad);
  setupSeals(ctx);
}
