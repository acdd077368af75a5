/* 文件签署: the signing page (templates/envelopes/sign/page.html).

   The page data is the JSON of #signing-data (views/sign.py): the documents with their page
   sizes, the signer's own fields and other parties' unfilled fields in fractions of the page
   (origin top-left), saved signatures or usable seals, the URLs and the messages.

   The signer stages stamps in the browser (一键盖章, or 指定位置签署: drag a signature or seal
   onto a page), then 提交签署 → 结束盖章 → signing PIN or SMS code → one POST with an
   idempotency key made once per page load. Staged stamps are kept in sessionStorage, so a
   reload (e.g. after "文件已更新") does not lose them.
*/
import { boxFromPair, centredStart, clamp, crossStrip, place } from "./geometry.mjs";
import { format } from "./format.mjs";

function main() {
  // --- small helpers --------------------------------------------------------------------------

  function $(selector, scope) { return (scope || document).querySelector(selector); }
  function $all(selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); }

  function openDialog(dialog) {
    if (!dialog) { return; }
    const toastNode = document.getElementById("sg-toast");
    if (toastNode) { toastNode.hidden = true; }
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) { dialog.showModal(); }
    } else {
      dialog.setAttribute("open", "");
      dialog.classList.add("is-fallback");
    }
  }

  function closeDialog(dialog) {
    if (!dialog) { return; }
    if (typeof dialog.close === "function") { if (dialog.open) { dialog.close(); } }
    else { dialog.removeAttribute("open"); }
  }

  function csrfToken() {
    const input = $("input[name=csrfmiddlewaretoken]");
    if (input) { return input.value; }
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID().replace(/-/g, "");
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // Generic behaviour that also serves the stand-alone 拒签 page.
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

  const dataNode = document.getElementById("signing-data");
  const root = document.getElementById("sg");
  if (!dataNode || !root) { return; }
  const D = JSON.parse(dataNode.textContent);
  const T = Object.assign({}, document.getElementById("sg-text").dataset);  // messages
  // Plural forms: the page renders each counted text for 1 ("…One") and for 2 ("…Other").
  let plurals = null;
  try { plurals = new Intl.PluralRules(document.documentElement.lang || "zh-CN"); } catch (e) { plurals = null; }
  const KEY = newKey();
  const isSeal = D.role === "seal";
  const isApprover = D.role === "approve";
  const docs = {};
  D.documents.forEach(function (doc) { docs[doc.id] = doc; });
  root.classList.add("is-js");
  // Scrolling to a field keeps it clear of the sticky top bar and the bottom action bar.
  document.documentElement.style.scrollPaddingTop = "4rem";
  document.documentElement.style.scrollPaddingBottom = "5.5rem";

  const toastBox = document.getElementById("sg-toast");
  let toastTimer = 0;
  function toast(text, ms) {
    if (!toastBox) { return; }
    toastBox.textContent = text;
    toastBox.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { toastBox.hidden = true; }, ms || 2600);
  }

  function pageEl(doc, page) { return $('.sg-page[data-doc="' + doc + '"][data-page="' + page + '"]'); }

  // --- list / viewer (phones show one at a time; desktops both) -------------------------------

  function setMode(mode) {
    root.dataset.mode = mode;
    document.body.classList.toggle("sg-viewing", mode === "view");
    if (mode === "view") { window.requestAnimationFrame(layout); }
  }

  function openDoc(docId, sign) {
    const wasView = root.dataset.mode === "view";
    setMode("view");
    const hash = "#doc-" + docId;
    if (!wasView) { history.pushState({ sg: "view" }, "", hash); }
    else { history.replaceState({ sg: "view" }, "", hash); }
    window.requestAnimationFrame(function () {
      if (sign && nextTarget(docId)) { goNext(docId); return; }
      const article = document.getElementById("doc-" + docId);
      if (article) { article.scrollIntoView({ block: "start" }); }
    });
  }

  root.addEventListener("click", function (event) {
    const open = event.target.closest("[data-open-doc]");
    if (open) {
      event.preventDefault();
      openDoc(open.dataset.openDoc, open.hasAttribute("data-open-sign"));
      return;
    }
    if (event.target.closest("[data-back]")) {
      event.preventDefault();
      if (history.state && history.state.sg === "view") { history.back(); }
      else { setMode("list"); window.scrollTo(0, 0); }
    }
  });

  window.addEventListener("popstate", function () {
    setMode(location.hash.indexOf("#doc-") === 0 ? "view" : "list");
  });
  setMode(location.hash.indexOf("#doc-") === 0 ? "view" : "list");

  // --- zoom (phones also pinch-zoom: the viewport allows it) ----------------------------------

  const ZOOMS = [1, 1.25, 1.5, 2, 2.5, 3];
  let zoomIndex = 0;
  const docsBox = document.getElementById("sg-docs");
  const zoomLabel = $(".sg-zoom-level");
  $all("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      const step = Number(button.dataset.zoom);
      zoomIndex = step === 0 ? 0 : clamp(zoomIndex + step, 0, ZOOMS.length - 1);
      docsBox.style.setProperty("--zoom", String(ZOOMS[zoomIndex]));
      if (zoomLabel) { zoomLabel.textContent = Math.round(ZOOMS[zoomIndex] * 100) + "%"; }
      layout();
    });
  });

  function layout() {
    // Page images: tell the browser the width they are shown at, so srcset picks a sharp one.
    const first = $(".sg-page");
    if (first && first.clientWidth) {
      const sizes = Math.round(first.clientWidth) + "px";
      $all(".sg-page img").forEach(function (img) { if (img.sizes !== sizes) { img.sizes = sizes; } });
    }
    $all(".sg-fit").forEach(function (el) {
      // As large as the field's height allows, then smaller until the text fits its width.
      const box = el.classList.contains("sg-text") ? el : el.parentElement;
      let size = clamp(box.clientHeight * 0.62, 6, 40);
      el.style.fontSize = size + "px";
      if (el.classList.contains("sg-date") && el.offsetWidth > box.clientWidth - 2) {
        size = Math.max(5, size * (box.clientWidth - 2) / el.offsetWidth);
        el.style.fontSize = size + "px";
      }
    });
  }
  window.addEventListener("resize", layout);

  // 拒签 in the dialog: sent with fetch so that a missing reason keeps the dialog open.
  const rejectForm = $("#dlg-reject form");
  if (rejectForm && window.fetch) {
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

  if (isApprover) { return; }

  // --- state ----------------------------------------------------------------------------------

  const state = { filled: {}, texts: {}, free: [], signature: null, seal: null };
  let uid = 0;

  function save() {
    try { sessionStorage.setItem(D.storageKey, JSON.stringify(state)); } catch (e) { /* private mode, quota */ }
  }

  function restore() {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(D.storageKey) || "null"); } catch (e) { saved = null; }
    if (!saved || typeof saved !== "object") { return false; }
    const ids = {};
    D.fields.forEach(function (f) { ids[f.id] = true; });
    Object.keys(saved.filled || {}).forEach(function (id) { if (ids[id]) { state.filled[id] = true; } });
    Object.keys(saved.texts || {}).forEach(function (id) { if (ids[id]) { state.texts[id] = String(saved.texts[id]); } });
    (saved.free || []).forEach(function (s) { if (docs[s.doc] && docs[s.doc].free) { s.uid = ++uid; state.free.push(s); } });
    const sig = saved.signature;
    if (sig && sig.type === "drawn" && typeof sig.data === "string") { state.signature = sig; }
    if (sig && sig.type === "saved") {
      const found = D.signatures.filter(function (s) { return s.id === sig.id; })[0];
      if (found) { state.signature = { type: "saved", id: found.id, url: found.url }; }
    }
    if (saved.seal) { state.seal = D.seals.filter(function (s) { return s.uuid === saved.seal.uuid; })[0] || null; }
    if (!state.signature && !isSeal) { state.filled = {}; state.free = []; }
    if (!state.seal && isSeal) { state.filled = {}; state.free = []; }
    // Date fields were filled along with a signature or seal; restore them only with it.
    return Object.keys(state.filled).length > 0 || state.free.length > 0;
  }

  function stampUrl() {
    if (isSeal) { return state.seal ? state.seal.url : ""; }
    if (!state.signature) { return ""; }
    return state.signature.type === "drawn" ? state.signature.data : state.signature.url;
  }

  function isFilled(field) {
    if (field.kind === "text") { return Boolean((state.texts[field.id] || "").trim()); }
    return Boolean(state.filled[field.id]);
  }

  function counted(name, n) {
    const one = plurals ? plurals.select(n) === "one" : n === 1;
    return format(T[name + (one ? "One" : "Other")], { n: n });
  }

  // What the signer staged, by kind: 已签名 2 处 (signatures), 已盖章 1 处 (seals and cross-page
  // seals); dates and text fields only count when nothing else was staged.
  function stagedSummary() {
    const kinds = D.fields.filter(isFilled).map(function (f) { return f.kind; })
      .concat(state.free.map(function (s) { return s.kind; }));
    const signatures = kinds.filter(function (k) { return k === "signature"; }).length;
    const seals = kinds.filter(function (k) { return k === "seal" || k === "cross_page_seal"; }).length;
    const parts = [];
    if (signatures) { parts.push(counted("countSignature", signatures)); }
    if (seals) { parts.push(counted("countSeal", seals)); }
    if (!parts.length) { parts.push(counted("countFilled", kinds.length)); }
    return parts.join(T.countAnd);
  }

  function remaining() { return D.fields.filter(function (f) { return !isFilled(f); }); }

  // --- drawing the fields ---------------------------------------------------------------------

  function removeButton(onRemove) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sg-remove";
    button.setAttribute("aria-label", T.remove);
    button.textContent = "×";
    button.addEventListener("click", function (event) { event.stopPropagation(); onRemove(); });
    button.addEventListener("pointerdown", function (event) { event.stopPropagation(); });
    return button;
  }

  function fillContent(el, kind, index, count, label) {
    const url = stampUrl();
    if (kind === "date") {
      const span = document.createElement("span");
      span.className = "sg-fit sg-date";
      span.textContent = D.today;
      el.appendChild(span);
    } else if (kind === "cross_page_seal") {
      el.classList.add("sg-cross");
      el.style.backgroundImage = 'url("' + url + '")';
      el.style.backgroundSize = (count * 100) + "% 100%";
      el.style.backgroundPosition = (count > 1 ? (index / (count - 1)) * 100 : 0) + "% 0";
    } else {
      const img = document.createElement("img");
      img.src = url;
      img.alt = label;
      img.draggable = false;
      el.appendChild(img);
    }
  }

  function drawOthers() {
    D.others.forEach(function (field) {
      field.parts.forEach(function (part) {
        const page = pageEl(field.doc, part.page);
        if (!page) { return; }
        const el = document.createElement("div");
        el.className = "sg-field is-other";
        el.title = format(T.fieldsOf, { name: field.name });
        const label = document.createElement("span");
        label.className = "sg-field-label";
        label.textContent = field.name;
        el.appendChild(label);
        place(el, part);
        page.appendChild(el);
      });
    });
  }

  function unstage(field) {
    delete state.filled[field.id];
    const stamped = D.fields.some(function (f) { return f.kind !== "date" && f.kind !== "text" && state.filled[f.id]; });
    if (!stamped) {
      D.fields.forEach(function (f) { if (f.kind === "date") { delete state.filled[f.id]; } });
    }
    save();
    render();
  }

  function drawMine() {
    $all(".sg-field.is-mine").forEach(function (el) { el.remove(); });
    D.fields.forEach(function (field) {
      const filled = isFilled(field);
      field.parts.forEach(function (part, index) {
        const page = pageEl(field.doc, part.page);
        if (!page) { return; }
        const el = document.createElement("div");
        el.className = "sg-field is-mine sg-kind-" + field.kind + (filled ? " is-filled" : "");
        el.dataset.field = field.id;
        el.setAttribute("data-testid", "sign-field");
        place(el, part);
        if (field.kind === "text") {
          const input = document.createElement("input");
          input.type = "text";
          input.className = "sg-text sg-fit";
          input.maxLength = 100;
          input.placeholder = field.label;
          input.setAttribute("aria-label", field.label);
          input.value = state.texts[field.id] || field.value || "";
          input.addEventListener("input", function () {
            state.texts[field.id] = input.value;
            el.classList.toggle("is-filled", Boolean(input.value.trim()));
            save();
            updateCount();
          });
          el.appendChild(input);
        } else if (filled) {
          fillContent(el, field.kind, index, field.parts.length, field.label);
          // Dates go with the signature or seal: they have no button of their own.
          if (field.kind !== "date") {
            el.appendChild(removeButton(function () { unstage(field); }));
          }
        } else {
          const label = document.createElement("span");
          label.className = "sg-field-label";
          label.textContent = field.label;
          el.appendChild(label);
          el.setAttribute("role", "button");
          el.tabIndex = 0;
          el.addEventListener("click", startStamping);
          el.addEventListener("keydown", function (event) {
            if (event.key === "Enter" || event.key === " ") { event.preventDefault(); startStamping(); }
          });
        }
        page.appendChild(el);
      });
    });
  }

  function drawFree() {
    $all(".sg-placed").forEach(function (el) { el.remove(); });
    state.free.forEach(function (stamp) {
      const doc = docs[stamp.doc];
      const parts = stamp.kind === "cross_page_seal" ? crossParts(stamp) : [stamp];
      parts.forEach(function (part, index) {
        const page = pageEl(stamp.doc, part.page);
        if (!page) { return; }
        const el = document.createElement("div");
        el.className = "sg-placed sg-kind-" + stamp.kind;
        el.setAttribute("data-testid", "sign-stamp-placed");
        el.dataset.uid = stamp.uid;
        place(el, part);
        fillContent(el, stamp.kind, index, parts.length, stamp.kind === "signature" ? T.signed : T.sealed);
        el.appendChild(removeButton(function () {
          state.free = state.free.filter(function (s) { return s.uid !== stamp.uid; });
          save();
          render();
        }));
        if (stamp.kind !== "cross_page_seal") {
          const handle = document.createElement("span");
          handle.className = "sg-resize";
          handle.setAttribute("aria-hidden", "true");
          el.appendChild(handle);
        }
        makeDraggable(el, stamp, page, doc);
        page.appendChild(el);
      });
    });
  }

  function updateCount() {
    const count = $("#sg-count");
    const left = remaining().length;
    if (count) { count.textContent = D.fields.length && left ? "(" + left + ")" : ""; }
  }

  function render() {
    drawMine();
    drawFree();
    updateCount();
    layout();
  }

  // --- 指定位置签署: free placements ---------------------------------------------------------------

  // A free cross-page seal's strips, one per page: where the server will draw them.
  function crossParts(stamp) {
    const pages = docs[stamp.doc].pages;
    const first = boxFromPair(pages[stamp.pages[0]]);
    return stamp.pages.map(function (page) {
      const strip = crossStrip(first, boxFromPair(pages[page]), stamp.top, stamp.height, stamp.pages.length);
      return Object.assign({ page: page }, strip);
    });
  }

  function visiblePage() {
    // The page of a document open to free placement that fills most of the screen.
    let best = null, bestArea = -1;
    $all(".sg-page").forEach(function (page) {
      const doc = docs[page.dataset.doc];
      if (!doc || !doc.free) { return; }
      const r = page.getBoundingClientRect();
      const visible = Math.max(0, Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0));
      if (visible > bestArea) { bestArea = visible; best = page; }
    });
    return best;
  }

  function centreTop(page, heightFraction) {
    const r = page.getBoundingClientRect();
    const middle = (Math.max(r.top, 0) + Math.min(r.bottom, window.innerHeight)) / 2;
    return centredStart((middle - r.top) / r.height, heightFraction);
  }

  function addFree(kind) {
    const page = visiblePage();
    if (!page) { return; }
    const doc = docs[page.dataset.doc];
    const index = Number(page.dataset.page);
    const box = doc.pages[index];
    const size = kind === "seal" ? D.sizes.seal : D.sizes.signature;
    const width = size[0] / box[0], height = size[1] / box[1];
    state.free.push({
      uid: ++uid, doc: doc.id, kind: kind, page: index,
      left: centredStart(0.5, width), top: centreTop(page, height), width: width, height: height
    });
    save();
    render();
    toast(T.placed, 3200);
  }

  function addCross(from, to) {
    const page = visiblePage();
    if (!page) { return false; }
    const doc = docs[page.dataset.doc];
    const pages = [];
    for (let p = from; p <= to; p += 1) { pages.push(p); }
    const first = doc.pages[pages[0]];
    const height = D.sizes.crossPage / first[1];
    state.free.push({
      uid: ++uid, doc: doc.id, kind: "cross_page_seal", pages: pages, page: pages[0],
      left: 1 - D.sizes.crossPage / pages.length / first[0], width: D.sizes.crossPage / pages.length / first[0],
      top: centredStart(0.5, height), height: height
    });
    save();
    render();
    toast(T.placedCross, 3200);
    return true;
  }

  function makeDraggable(el, stamp, page) {
    let start = null;
    el.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) { return; }
      event.preventDefault();
      const rect = page.getBoundingClientRect();
      start = {
        x: event.clientX, y: event.clientY, left: stamp.left, top: stamp.top,
        width: stamp.width, height: stamp.height, w: rect.width, h: rect.height,
        resize: Boolean(event.target.closest(".sg-resize")), id: event.pointerId
      };
      try { el.setPointerCapture(event.pointerId); } catch (e) { /* synthetic events */ }
      el.classList.add("is-dragging");
    });
    el.addEventListener("pointermove", function (event) {
      if (!start || event.pointerId !== start.id) { return; }
      event.preventDefault();
      const dx = (event.clientX - start.x) / start.w, dy = (event.clientY - start.y) / start.h;
      if (stamp.kind === "cross_page_seal") {
        stamp.top = clamp(start.top + dy, 0, 1 - stamp.height);
        const parts = crossParts(stamp);
        $all('.sg-placed[data-uid="' + stamp.uid + '"]').forEach(function (strip) {
          const page = Number(strip.closest(".sg-page").dataset.page);
          const part = parts.filter(function (p) { return p.page === page; })[0];
          if (part) { place(strip, part); }
        });
        return;
      }
      if (start.resize) {
        const minScale = Math.max(14 / (start.width * start.w), 14 / (start.height * start.h));
        const maxScale = Math.min((1 - start.left) / start.width, (1 - start.top) / start.height);
        const scale = clamp((start.width + dx) / start.width, Math.min(minScale, 1), Math.max(maxScale, 0.2));
        stamp.width = start.width * scale;
        stamp.height = start.height * scale;
      } else {
        stamp.left = clamp(start.left + dx, 0, 1 - stamp.width);
        stamp.top = clamp(start.top + dy, 0, 1 - stamp.height);
      }
      place(el, stamp);
    });
    function end(event) {
      if (!start || event.pointerId !== start.id) { return; }
      start = null;
      el.classList.remove("is-dragging");
      save();
    }
    el.addEventListener("pointerup", end);
    el.addEventListener("pointercancel", end);
    // Old iOS scrolls despite touch-action: none.
    el.addEventListener("touchmove", function (event) { event.preventDefault(); }, { passive: false });
  }

  // --- 一键盖章 -----------------------------------------------------------------------------------

  function stampAll() {
    const kinds = isSeal ? ["seal", "cross_page_seal", "date"] : ["signature", "date"];
    let count = 0;
    D.fields.forEach(function (field) {
      if (kinds.indexOf(field.kind) >= 0) { state.filled[field.id] = true; count += 1; }
    });
    save();
    render();
    const next = remaining();
    if (next.length) { toast(format(T.fillText, { label: next[0].label })); goNext(); }
    else if (count) { toast(format(T.stamped, { summary: stagedSummary() })); }
  }

  function useStamp() {
    if (D.fields.length) { stampAll(); }
    else if (D.free) { addFree(isSeal ? "seal" : "signature"); }
  }

  function startStamping() {
    if (isSeal) {
      if (D.seals.length === 1 && !D.free) { state.seal = D.seals[0]; useStamp(); return; }
      openDialog($("#dlg-seal"));
      return;
    }
    if (D.signatures.length) { openDialog($("#dlg-saved")); }
    else { openPad(); }
  }

  const stampButton = $("#sg-stamp");
  if (stampButton) { stampButton.addEventListener("click", startStamping); }

  const useSaved = $("#sg-use-saved");
  if (useSaved) {
    useSaved.addEventListener("click", function () {
      const checked = $("input[name=sg-signature]:checked") || $("input[name=sg-signature]");
      const found = D.signatures.filter(function (s) { return String(s.id) === checked.value; })[0] || D.signatures[0];
      state.signature = { type: "saved", id: found.id, url: found.url };
      closeDialog($("#dlg-saved"));
      useStamp();
    });
  }

  const redraw = $("#sg-redraw");
  if (redraw) {
    redraw.addEventListener("click", function () { closeDialog($("#dlg-saved")); openPad(); });
  }

  const padRoot = $("#dlg-pad [data-signature-pad]");
  function openPad() {
    openDialog($("#dlg-pad"));
    window.requestAnimationFrame(function () {
      if (padRoot && padRoot.signaturePad) { padRoot.signaturePad.resize(); }
    });
  }

  function trimmed(canvas) {
    // The ink's bounding box with a small margin, so the signature fills its field.
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

  if (padRoot) {
    padRoot.addEventListener("signaturepad:save", function (event) {
      event.preventDefault();  // a one-time signature: used for this signing, not stored
      const pad = event.detail.pad;
      state.signature = { type: "drawn", data: trimmed(pad.canvas) };
      pad.clear();
      closeDialog($("#dlg-pad"));
      useStamp();
    });
  }

  // Seal choice (and, for free placement, 普通章 / 骑缝章 with the pages).
  const sealDialog = $("#dlg-seal");
  if (sealDialog) {
    const crossBox = $("#sg-cross-pages");
    const fromInput = $("#sg-cross-from"), toInput = $("#sg-cross-to");
    const sealError = $("#sg-seal-error");
    function crossDoc() { const page = visiblePage(); return page ? docs[page.dataset.doc] : null; }
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
      state.seal = D.seals.filter(function (s) { return checked && s.uuid === checked.value; })[0] || D.seals[0];
      const mode = $("input[name=sg-seal-mode]:checked");
      if (mode && mode.value === "cross_page_seal") {
        const doc = crossDoc();
        const from = parseInt(fromInput.value, 10) - 1, to = parseInt(toInput.value, 10) - 1;
        if (!doc || !(from >= 0 && to > from && to < doc.pages.length)) {
          sealError.textContent = T.crossPages;
          sealError.hidden = false;
          return;
        }
        sealError.hidden = true;
        closeDialog(sealDialog);
        addCross(from, to);
        return;
      }
      closeDialog(sealDialog);
      useStamp();
      render();  // a changed seal shows on every stamped field
    });
  }

  // --- 下一处 -------------------------------------------------------------------------------------

  let cursor = -1;
  function nextTarget(docId) {
    const open = remaining().filter(function (f) { return !docId || String(f.doc) === String(docId); });
    return open.length ? open : null;
  }

  function goNext(docId) {
    const open = nextTarget(docId);
    if (!open) {
      if (!D.fields.length && !state.free.length) { toast(T.placeFirst); }
      else { toast(T.allDone); }
      return;
    }
    cursor = (cursor + 1) % open.length;
    const field = open[cursor];
    const el = $('.sg-field.is-mine[data-field="' + field.id + '"]');
    if (!el) { return; }
    setMode("view");
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.classList.remove("is-flash");
    void el.offsetWidth;
    el.classList.add("is-flash");
    const input = el.querySelector("input");
    if (input) { window.setTimeout(function () { input.focus({ preventScroll: true }); }, 350); }
  }

  const nextButton = $("#sg-next");
  if (nextButton) {
    nextButton.hidden = !D.fields.length;  // 指定位置签署 only: nothing to go to
    nextButton.addEventListener("click", function () { goNext(); });
  }

  // --- 提交签署 -----------------------------------------------------------------------------------

  function stagedFields() {
    const out = [];
    D.fields.forEach(function (field) {
      if (!isFilled(field)) { return; }
      out.push(field.kind === "text" ? { field: field.id, value: state.texts[field.id].trim() } : { field: field.id });
    });
    state.free.forEach(function (s) {
      const item = { document: s.doc, kind: s.kind, page: s.page, left: s.left, top: s.top, width: s.width, height: s.height };
      if (s.kind === "cross_page_seal") { item.pages = s.pages; }
      out.push(item);
    });
    return out;
  }

  const submitButton = $("#sg-submit");
  if (submitButton) {
    submitButton.addEventListener("click", function () {
      const open = remaining();
      if (open.length) {
        toast(format(T.remaining, { n: open.length }));
        cursor = -1;
        goNext();
        return;
      }
      if (!D.fields.length && !state.free.length) { toast(D.free ? T.placeFirst : T.noneYet); return; }
      const summary = $("#sg-finish-summary");
      if (summary) { summary.textContent = stagedSummary(); }
      openDialog($("#dlg-finish"));
    });
  }

  const finishButton = $("#sg-finish");
  const confirmDialog = $("#dlg-confirm");
  const confirmError = $("#sg-confirm-error");
  const reloadButton = $("#sg-reload");
  const secret = $("#sg-pin") || $("#sg-code");
  if (finishButton) {
    finishButton.addEventListener("click", function () {
      closeDialog($("#dlg-finish"));
      confirmError.hidden = true;
      openDialog(confirmDialog);
      if (secret) { secret.value = ""; secret.focus(); }
    });
  }

  function showConfirmError(text) {
    confirmError.textContent = text;
    confirmError.hidden = false;
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken(),
        "X-Requested-With": "fetch"
      },
      body: JSON.stringify(body)
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!data) { return { ok: false, message: response.redirected || response.status === 403 ? T.relogin : T.network }; }
    return data;
  }

  let busy = false;
  const confirmForm = $("#sg-confirm-form");
  const confirmButton = $("#sg-confirm");
  if (confirmForm) {
    confirmForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (busy) { return; }
      const value = secret ? secret.value.replace(/\s/g, "") : "";
      if (!/^\d{6}$/.test(value)) {
        showConfirmError(D.needsCode ? T.codeNeeded : T.pinNeeded);
        if (secret) { secret.focus(); }
        return;
      }
      const body = {
        key: KEY,
        recipient: D.recipient,
        seen: D.seen,
        fields: stagedFields(),
        seal: state.seal ? state.seal.uuid : null,
        signature: state.signature && state.signature.type === "drawn" ? state.signature.data : null,
        signature_id: state.signature && state.signature.type === "saved" ? state.signature.id : null
      };
      body[D.needsCode ? "code" : "pin"] = value;
      busy = true;
      const label = confirmButton.textContent;
      confirmButton.disabled = true;
      confirmButton.textContent = T.submitting;
      confirmError.hidden = true;
      let result;
      try { result = await postJson(D.urls.submit, body); }
      catch (e) { result = { ok: false, message: T.network }; }
      if (result.ok) {
        try { sessionStorage.removeItem(D.storageKey); } catch (e) { /* ignore */ }
        window.location.assign(result.redirect || D.urls.done);
        return;
      }
      busy = false;
      confirmButton.disabled = false;
      confirmButton.textContent = label;
      showConfirmError(result.message || T.network);
      if (secret) { secret.value = ""; secret.focus(); }
      if (reloadButton && (result.reload || result.redirect)) {
        reloadButton.hidden = false;
        reloadButton.onclick = function () {
          if (result.redirect) { window.location.assign(result.redirect); } else { window.location.reload(); }
        };
      }
    });
  }

  // 获取验证码 with a 60 s countdown.
  const sendCode = $("#sg-send-code");
  if (sendCode) {
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
      try { result = await postJson(D.urls.code, { seen: D.seen }); }
      catch (e) { result = { ok: false, message: T.network }; }
      codeResult.textContent = result.message || T.network;
      codeResult.className = "msg " + (result.ok ? "msg-success" : "msg-error");
      codeResult.hidden = false;
      if (result.ok || result.retry_after) { countdown(result.ok ? 60 : result.retry_after); }
      else { sendCode.disabled = false; }
      if (result.ok && secret) { secret.focus(); }
    });
  }

  // --- start ----------------------------------------------------------------------------------

  drawOthers();
  if (restore()) { render(); toast(format(T.stamped, { summary: stagedSummary() })); }
  else { render(); }
  $all(".sg-page img").forEach(function (img) { img.addEventListener("load", layout, { once: true }); });
}

main();
