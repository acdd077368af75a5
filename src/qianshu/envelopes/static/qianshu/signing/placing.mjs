/* 指定位置签署: placing a signature or seal anywhere on a page open to free placement, then
   dragging it (and its corner handle to resize it; a cross-page seal only moves up and down). */
import { clamp, place } from "../geometry.mjs";
import { $all } from "./dom.mjs";

/** Puts a free signature or seal in the middle of the page on screen. */
export function addFree(ctx, kind) {
  const page = ctx.visiblePage();
  if (!page) { return; }
  ctx.state.addFree(kind, page.dataset.doc, Number(page.dataset.page), ctx.centreOf(page));
  ctx.state.save();
  ctx.render();
  ctx.toast(ctx.T.placed, 3200);
}

/** Puts a free cross-page seal on pages `from`…`to` (0-based) of the document on screen. */
export function addCross(ctx, from, to) {
  const page = ctx.visiblePage();
  if (!page) { return false; }
  ctx.state.addCross(page.dataset.doc, from, to);
  ctx.state.save();
  ctx.render();
  ctx.toast(ctx.T.placedCross, 3200);
  return true;
}

function dragTo(ctx, el, stamp, start, event) {
  const dx = (event.clientX - start.x) / start.w, dy = (event.clientY - start.y) / start.h;
  if (stamp.kind === "cross_page_seal") {
    stamp.top = clamp(start.top + dy, 0, 1 - stamp.height);
    const parts = ctx.state.crossParts(stamp);
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
}

export function makeDraggable(ctx, el, stamp, page) {
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
    dragTo(ctx, el, stamp, start, event);
  });
  function end(event) {
    if (!start || event.pointerId !== start.id) { return; }
    start = null;
    el.classList.remove("is-dragging");
    ctx.state.save();
  }
  el.addEventListener("pointerup", end);
  el.addEventListener("pointercancel", end);
  // Old iOS scrolls despite touch-action: none.
  el.addEventListener("touchmove", function (event) { event.preventDefault(); }, { passive: false });
}
