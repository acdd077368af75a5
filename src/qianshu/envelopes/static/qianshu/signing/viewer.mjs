/* The signing page's list and viewer (phones show one at a time; desktops both), zoom, and the
   page layout: which page is on screen, page images at a sharp size, text that fits its field.

   Sets ctx.setMode, ctx.layout, ctx.pageEl, ctx.visiblePage and ctx.centreOf. */
import { clamp } from "../geometry.mjs";
import { $, $all } from "./dom.mjs";

const ZOOMS = [1, 1.25, 1.5, 2, 2.5, 3];

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

function pageEl(doc, page) { return $('.sg-page[data-doc="' + doc + '"][data-page="' + page + '"]'); }

function setupListAndViewer(ctx) {
  const root = ctx.root;
  function setMode(mode) {
    root.dataset.mode = mode;
    document.body.classList.toggle("sg-viewing", mode === "view");
    if (mode === "view") { window.requestAnimationFrame(layout); }
  }
  ctx.setMode = setMode;

  function openDoc(docId, sign) {
    const wasView = root.dataset.mode === "view";
    setMode("view");
    const hash = "#doc-" + docId;
    if (!wasView) { history.pushState({ sg: "view" }, "", hash); }
    else { history.replaceState({ sg: "view" }, "", hash); }
    window.requestAnimationFrame(function () {
      if (sign && ctx.nextTarget(docId)) { ctx.goNext(docId); return; }
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
}

// Phones also pinch-zoom: the viewport allows it.
function setupZoom() {
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
}

export function setupViewer(ctx) {
  const docs = ctx.state.docs;
  ctx.layout = layout;
  ctx.pageEl = pageEl;
  // The page of a document open to free placement that fills most of the screen.
  ctx.visiblePage = function () {
    let best = null, bestArea = -1;
    $all(".sg-page").forEach(function (page) {
      const doc = docs[page.dataset.doc];
      if (!doc || !doc.free) { return; }
      const r = page.getBoundingClientRect();
      const visible = Math.max(0, Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0));
      if (visible > bestArea) { bestArea = visible; best = page; }
    });
    return best;
  };
  // The middle of the page's part on screen, in fractions of the page's height.
  ctx.centreOf = function (page) {
    const r = page.getBoundingClientRect();
    const middle = (Math.max(r.top, 0) + Math.min(r.bottom, window.innerHeight)) / 2;
    return (middle - r.top) / r.height;
  };
  setupListAndViewer(ctx);
  setupZoom();
  window.addEventListener("resize", layout);
}
