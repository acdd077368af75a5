/* The field editor's palette: the recipient whose fields are placed, and adding fields — drag a
 * palette item onto a page, or tap it and then tap the page. Pointer events serve mouse and
 * touch. */
import { format } from "../format.mjs";
import { CROSS } from "./state.mjs";

export function setupPalette(ed) {
  const root = ed.root;
  const state = ed.state;
  const S = ed.strings;
  const hint = root.querySelector("[data-place-hint]");

  ed.chooseRecipient = function (id) {
    state.recipient = id;
    root.querySelectorAll(".ed-recipient").forEach(function (button) {
      button.setAttribute("aria-checked", String(Number(button.dataset.recipient) === id));
    });
    root.querySelectorAll("[data-items-for]").forEach(function (items) {
      items.hidden = Number(items.dataset.itemsFor) !== id;
    });
    ed.disarm();
  };

  root.querySelectorAll(".ed-recipient").forEach(function (button) {
    button.addEventListener("click", function () { ed.chooseRecipient(Number(button.dataset.recipient)); });
  });

  function addField(kind, recipientId, hit, x, y) {
    const f = state.add(kind, recipientId, state.doc, hit.page,
      (x - hit.rect.left) / hit.rect.width, (y - hit.rect.top) / hit.rect.height);
    ed.markDirty();
    ed.selectField(f.key);
  }

  function arm(kind) {
    if (state.selected !== null) { ed.selectField(null); }
    state.armed = kind;
    root.classList.add("is-armed");
    root.querySelectorAll(".ed-item").forEach(function (item) {
      item.setAttribute("aria-pressed", String(item.dataset.kind === kind &&
        Number(item.dataset.recipient) === state.recipient));
    });
    hint.querySelector("[data-place-text]").textContent = format(S.placeHint, { kind: state.kinds[kind].label });
    hint.hidden = false;
  }

  ed.disarm = function () {
    state.armed = null;
    root.classList.remove("is-armed");
    root.querySelectorAll(".ed-item").forEach(function (item) { item.setAttribute("aria-pressed", "false"); });
    hint.hidden = true;
  };

  hint.querySelector("[data-place-cancel]").addEventListener("click", ed.disarm);

  function toggleArm(item) {
    if (item.disabled) { return; }
    if (state.armed === item.dataset.kind) { ed.disarm(); } else { arm(item.dataset.kind); }
  }

  function ghostFor(kind, recipientId) {
    const spec = state.kinds[kind];
    const pageEl = ed.currentPages()[0];
    const b = state.box(state.doc, 0);
    const scale = pageEl.getBoundingClientRect().width / b.w;
    const ghost = document.createElement("div");
    ghost.className = "ed-field ed-ghost ed-f-" + kind;
    ghost.style.setProperty("--c", state.recipients[recipientId].colour);
    const w = kind === CROSS ? spec.w / Math.max(state.pageCount(state.doc), 2) : spec.w;
    ghost.style.width = Math.max(w * scale, 24) + "px";
    ghost.style.height = Math.max(spec.h * scale, 16) + "px";
    const text = document.createElement("span");
    text.className = "ed-flabel";
    text.textContent = state.recipients[recipientId].name + " · " + spec.label;
    ghost.appendChild(text);
    return ghost;
  }

  // Taps are handled at pointerup (a synthesised click does not always follow a touch);
  // clicks only serve the keyboard (a click from Enter or Space has detail 0).
  let paletteDrag = null;

  root.querySelectorAll(".ed-item").forEach(function (item) {
    item.addEventListener("pointerdown", function (event) {
      if (item.disabled || event.button > 0) { return; }
      paletteDrag = { item: item, id: event.pointerId, x: event.clientX, y: event.clientY, ghost: null };
      try { item.setPointerCapture(event.pointerId); } catch (error) { /* synthetic events */ }
    });
    item.addEventListener("pointermove", function (event) {
      const drag = paletteDrag;
      if (!drag || drag.id !== event.pointerId) { return; }
      if (!drag.ghost) {
        if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < 6) { return; }
        drag.ghost = ghostFor(item.dataset.kind, Number(item.dataset.recipient));
        document.body.appendChild(drag.ghost);
        root.classList.add("is-dragging");
        ed.disarm();
      }
      event.preventDefault();
      drag.ghost.style.transform = "translate(" + (event.clientX - drag.ghost.offsetWidth / 2) + "px," +
        (event.clientY - drag.ghost.offsetHeight / 2) + "px)";
      const hit = ed.dropTarget(event.clientX, event.clientY);
      ed.currentPages().forEach(function (el) { el.classList.toggle("is-target", !!hit && hit.el === el); });
      ed.autoScroll(event.clientY);
    });
    const finish = function (event, drop) {
      const drag = paletteDrag;
      if (!drag || drag.id !== event.pointerId) { return; }
      paletteDrag = null;
      ed.stopScroll();
      ed.currentPages().forEach(function (el) { el.classList.remove("is-target"); });
      root.classList.remove("is-dragging");
      if (!drag.ghost) {
        if (drop) { toggleArm(item); }
        return;
      }
      drag.ghost.remove();
      const hit = drop && ed.dropTarget(event.clientX, event.clientY);
      if (hit) { addField(item.dataset.kind, Number(item.dataset.recipient), hit, event.clientX, event.clientY); }
    };
    item.addEventListener("pointerup", function (event) { finish(event, true); });
    item.addEventListener("pointercancel", function (event) { finish(event, false); });
    item.addEventListener("click", function (event) {
      if (event.detail === 0) { toggleArm(item); }
    });
  });

  // Tap-to-place: a tap on a page (not on a field) while an item is armed; else it deselects.
  let press = null;
  root.addEventListener("pointerdown", function (event) {
    press = null;
    if (event.button > 0 || event.target.closest(".ed-field") || !event.target.closest(".ed-page")) { return; }
    press = { id: event.pointerId, x: event.clientX, y: event.clientY };
  });
  root.addEventListener("pointercancel", function () { press = null; });
  root.addEventListener("pointerup", function (event) {
    const p = press;
    press = null;
    if (!p || p.id !== event.pointerId || Math.hypot(event.clientX - p.x, event.clientY - p.y) > 8) { return; }
    if (state.armed && state.recipient !== null) {
      const hit = ed.pageAt(event.clientX, event.clientY);
      if (hit) { addField(state.armed, state.recipient, hit, event.clientX, event.clientY); }
      ed.disarm();
    } else if (state.selected !== null) {
      ed.selectField(null);
    }
  });
}
