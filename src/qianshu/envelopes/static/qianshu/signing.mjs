/* 文件签署: the signing page (templates/envelopes/sign/page.html) and the stand-alone 拒签 page
   (sign/reject.html).

   The page data is the JSON of #signing-data (views/sign.py): the documents with their page
   sizes, the signer's own fields and other parties' unfilled fields in fractions of the page
   (origin top-left), saved signatures or usable seals, the URLs and the messages (#sg-text).

   The signer stages stamps in the browser (一键盖章, or 指定位置签署: drag a signature or seal
   onto a page), then 提交签署 → 结束盖章 → signing PIN or SMS code → one POST with an
   idempotency key made once per page load. Staged stamps are kept in sessionStorage, so a
   reload (e.g. after "文件已更新") does not lose them.

   The parts, in signing/: state.mjs (what is staged, no page element), dom.mjs, reject.mjs,
   viewer.mjs (list, viewer, zoom, layout), fields.mjs (drawing), placing.mjs (free stamps,
   dragging), stamping.mjs (signature and seal dialogs), submit.mjs (下一处, 提交签署, PIN/SMS).
   They share one `ctx`: the page data, the state and the functions each part sets on it.
*/
import { format } from "./format.mjs";
import { $all, makeToast, newKey } from "./signing/dom.mjs";
import { setupFields, drawOthers } from "./signing/fields.mjs";
import { setupDialogButtons, setupReject } from "./signing/reject.mjs";
import { StagedState } from "./signing/state.mjs";
import { setupStamping } from "./signing/stamping.mjs";
import { setupSubmit } from "./signing/submit.mjs";
import { setupViewer } from "./signing/viewer.mjs";

function sessionStore() {
  try { return window.sessionStorage; } catch (e) { return null; }  // blocked storage
}

function main() {
  setupDialogButtons();
  const dataNode = document.getElementById("signing-data");
  const root = document.getElementById("sg");
  if (!dataNode || !root) { return; }
  const D = JSON.parse(dataNode.textContent);
  const T = Object.assign({}, document.getElementById("sg-text").dataset);  // messages
  // Plural forms: the page renders each counted text for 1 ("…One") and for 2 ("…Other").
  let plurals = null;
  try { plurals = new Intl.PluralRules(document.documentElement.lang || "zh-CN"); } catch (e) { plurals = null; }
  const state = new StagedState(D, sessionStore());
  const ctx = {
    D: D, T: T, root: root, state: state, key: newKey(), toast: makeToast(),
    summary: function () { return state.summary(T, plurals); },
    nextTarget: function () { return null; }
  };
  root.classList.add("is-js");
  // Scrolling to a field keeps it clear of the sticky top bar and the bottom action bar.
  document.documentElement.style.scrollPaddingTop = "4rem";
  document.documentElement.style.scrollPaddingBottom = "5.5rem";
  setupViewer(ctx);
  setupReject(T);
  if (D.role === "approve") { return; }

  setupFields(ctx);
  setupStamping(ctx);
  setupSubmit(ctx);
  drawOthers(ctx);
  if (state.restore()) { ctx.render(); ctx.toast(format(T.stamped, { summary: ctx.summary() })); }
  else { ctx.render(); }
  $all(".sg-page img").forEach(function (img) { img.addEventListener("load", ctx.layout, { once: true }); });
}

main();
