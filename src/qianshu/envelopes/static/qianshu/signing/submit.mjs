/* 下一处 and 提交签署 → 结束盖章 (#dlg-finish) → the signing PIN or SMS code (#dlg-confirm, with
   获取验证码 and its countdown) → one POST with the page load's idempotency key.

   Sets ctx.nextTarget and ctx.goNext. */
import { format } from "../format.mjs";
import { $, closeDialog, openDialog, postJson } from "./dom.mjs";

function setupNext(ctx) {
  const D = ctx.D;
  let cursor = -1;
  ctx.nextTarget = function (docId) {
    const open = ctx.state.remaining().filter(function (f) { return !docId || String(f.doc) === String(docId); });
    return open.length ? open : null;
  };
  ctx.goNext = function (docId) {
    const open = ctx.nextTarget(docId);
    if (!open) {
      if (!D.fields.length && !ctx.state.free.length) { ctx.toast(ctx.T.placeFirst); }
      else { ctx.toast(ctx.T.allDone); }
      return;
    }
    cursor = (cursor + 1) % open.length;
    const field = open[cursor];
    const el = $('.sg-field.is-mine[data-field="' + field.id + '"]');
    if (!el) { return; }
    ctx.setMode("view");
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.classList.remove("is-flash");
    void el.offsetWidth;
    el.classList.add("is-flash");
    const input = el.querySelector("input");
    if (input) { window.setTimeout(function () { input.focus({ preventScroll: true }); }, 350); }
  };
  ctx.restartNext = function () { cursor = -1; };
  const nextButton = $("#sg-next");
  if (nextButton) {
    nextButton.hidden = !D.fields.length;  // 指定位置签署 only: nothing to go to
    nextButton.addEventListener("click", function () { ctx.goNext(); });
  }
}

function setupFinish(ctx, confirm) {
  const D = ctx.D, T = ctx.T;
  const submitButton = $("#sg-submit");
  if (submitButton) {
    submitButton.addEventListener("click", function () {
      const open = ctx.state.remaining();
      if (open.length) {
        ctx.toast(format(T.remaining, { n: open.length }));
        ctx.restartNext();
        ctx.goNext();
        return;
      }
      if (!D.fields.length && !ctx.state.free.length) { ctx.toast(D.free ? T.placeFirst : T.noneYet); return; }
      const summary = $("#sg-finish-summary");
      if (summary) { summary.textContent = ctx.summary(); }
      openDialog($("#dlg-finish"));
    });
  }
  const finishButton = $("#sg-finish");
  if (finishButton) {
    finishButton.addEventListener("click", function () {
      closeDialog($("#dlg-finish"));
      confirm.error.hidden = true;
      openDialog(confirm.dialog);
      if (confirm.secret) { confirm.secret.value = ""; confirm.secret.focus(); }
    });
  }
}

function failed(ctx, confirm, result, label) {
  const button = $("#sg-confirm"), reloadButton = $("#sg-reload"), secret = confirm.secret;
  button.disabled = false;
  button.textContent = label;
  confirm.showError(result.message || ctx.T.network);
  if (secret) { secret.value = ""; secret.focus(); }
  if (reloadButton && (result.reload || result.redirect)) {
    reloadButton.hidden = false;
    reloadButton.onclick = function () {
      if (result.redirect) { window.location.assign(result.redirect); } else { window.location.reload(); }
    };
  }
}

function setupConfirm(ctx, confirm) {
  const D = ctx.D, T = ctx.T, secret = confirm.secret;
  const confirmForm = $("#sg-confirm-form");
  const confirmButton = $("#sg-confirm");
  if (!confirmForm) { return; }
  let busy = false;
  confirmForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (busy) { return; }
    const value = secret ? secret.value.replace(/\s/g, "") : "";
    if (!/^\d{6}$/.test(value)) {
      confirm.showError(D.needsCode ? T.codeNeeded : T.pinNeeded);
      if (secret) { secret.focus(); }
      return;
    }
    const body = ctx.state.payload(ctx.key, value);
    busy = true;
    const label = confirmButton.textContent;
    confirmButton.disabled = true;
    confirmButton.textContent = T.submitting;
    confirm.error.hidden = true;
    let result;
    try { result = await postJson(D.urls.submit, body, T); }
    catch (e) { result = { ok: false, message: T.network }; }
    if (result.ok) {
      ctx.state.forget();
      window.location.assign(result.redirect || D.urls.done);
      return;
    }
    busy = false;
    failed(ctx, confirm, result, label);
  });
}

// 获取验证码 with a 60 s countdown.
function setupSendCode(ctx, secret) {
  const D = ctx.D, T = ctx.T;
  const sendCode = $("#sg-send-code");
  if (!sendCode) { return; }
  const codeResult = $("#sg-code-result");
  const label = sendCode.textContent;
  function countdown(seconds) {
    let left = seconds;
    sendCode.disabled = true;
    (function tick() {
      if (left <= 0) { sendCode.disabled = false; sendCode.textContent = label; return; }
      sendCode.textContent = format(T.wait, { s: left });
      left -= 1;
      window.setTimeout(tick, 1000);
    })();
  }
  sendCode.addEventListener("click", async function () {
    sendCode.disabled = true;
    let result;
    try { result = await postJson(D.urls.code, { seen: D.seen }, T); }
    catch (e) { result = { ok: false, message: T.network }; }
    codeResult.textContent = result.message || T.network;
    codeResult.className = "msg " + (result.ok ? "msg-success" : "msg-error");
    codeResult.hidden = false;
    if (result.ok || result.retry_after) { countdown(result.ok ? 60 : result.retry_after); }
    else { sendCode.disabled = false; }
    if (result.ok && secret) { secret.focus(); }
  });
}

export function setupSubmit(ctx) {
  const error = $("#sg-confirm-error");
  const confirm = {
    dialog: $("#dlg-confirm"),
    error: error,
    secret: $("#sg-pin") || $("#sg-code"),
    showError: function (text) { error.textContent = text; error.hidden = false; }
  };
  setupNext(ctx);
  setupFinish(ctx, confirm);
  setupConfirm(ctx, confirm);
  setupSendCode(ctx, confirm.secret);
}
