/* The field editor's pages: the fields drawn on them, and moving, resizing, deleting and
 * keyboard handling of the fields. Drag a field to move it (also to another page), its corner
 * handle to resize it; a cross-page seal only moves up and down. */
import { place } from "../geometry.mjs";
import { format } from "../format.mjs";
import { isCross } from "./state.mjs";

/** Adds to `ed` the drawing of fields: render(), renderField(f), markDirty(), selectField(key). */
export function setupFieldView(ed) {
  const root = ed.root;
  const state = ed.state;
  const S = ed.strings;

  ed.pageEls = {};  // "doc:page" → .ed-page
  root.querySelectorAll(".ed-doc").forEach(function (docEl) {
    docEl.querySelectorAll(".ed-page").forEach(function (pageEl) {
      const layer = document.createElement("div");
      layer.className = "ed-layer";
      pageEl.appendChild(layer);
      ed.pageEls[docEl.dataset.document + ":" + pageEl.dataset.page] = pageEl;
    });
  });

  function fieldElement(f, rect, part) {
    const r = state.recipients[f.recipient];
    const el = document.createElement("div");
    el.className = "ed-field ed-f-" + f.kind + (f.key === state.selected ? " is-selected" : "");
    el.dataset.key = String(f.key);
    el.tabIndex = 0;
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", state.labelOf(f));
    el.style.setProperty("--c", r ? r.colour : "#616e7c");
    place(el, rect);
    const text = document.createElement("span");
    text.className = "ed-flabel";
    text.textContent = f.kind === "text" && f.label ? (r ? r.name + " · " : "") + f.label
      : part ? state.kinds[f.kind].label + " " + part : state.labelOf(f);
    el.appendChild(text);
    if (f.key === state.selected) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "ed-fdel";
      del.setAttribute("aria-label", S.delete);
      del.textContent = "×";
      el.appendChild(del);
      const handle = document.createElement("span");
      handle.className = "ed-fhandle";
      handle.setAttribute("aria-hidden", "true");
      el.appendChild(handle);
    }
    return el;
  }

  function renderCounts() {
    state.recipientList.forEach(function (r) {
      const el = root.querySelector("[data-count-for='" + r.id + "']");
      if (!el) { return; }
      const n = state.countFor(r.id);
      el.textContent = n ? format(S.fieldCount, { n: n }) : S.noFields;
      el.classList.toggle("is-empty", !n);
    });
  }

  ed.render = function () {
    Object.keys(ed.pageEls).forEach(function (id) {
      const layer = ed.pageEls[id].querySelector(".ed-layer");
      while (layer.firstChild) { layer.removeChild(layer.firstChild); }
    });
    state.fields.forEach(function (f) {
      if (f.document !== state.doc) { return; }
      if (isCross(f)) {
        f.pages.forEach(function (page, i) {
          const pageEl = ed.pageEls[f.document + ":" + page];
          if (!pageEl) { return; }
          const part = (i + 1) + "/" + f.pages.length;
          pageEl.querySelector(".ed-layer").appendChild(fieldElement(f, state.stripOn(f, page), part));
        });
      } else {
        const pageEl = ed.pageEls[f.document + ":" + f.page];
        if (pageEl) { pageEl.querySelector(".ed-layer").appendChild(fieldElement(f, f, "")); }
      }
    });
    renderCounts();
    ed.renderInspector();
  };

  // During a resize or a cross-page move only the field's own elements change.
  ed.renderField = function (f) {
    const els = root.querySelectorAll(".ed-field[data-key='" + f.key + "']");
    if (isCross(f)) {
      els.forEach(function (el) { place(el, state.stripOn(f, Number(el.closest(".ed-page").dataset.page))); });
    } else {
      els.forEach(function (el) { place(el, f); });
    }
  };

  ed.markDirty = function () {
    state.dirty = true;
    ed.statusEl.textContent = S.unsaved;
    ed.errorEl.hidden = true;
  };

  ed.selectField = function (key) {
    state.selected = key;
    ed.render();
  };

  ed.removeField = function (key) {
    state.remove(key);
    ed.markDirty();
    ed.render();
  };
}

/** Moving and resizing fields with the pointer, deleting them, and the keyboard. */
export function setupFieldGestures(ed) {
  const root = ed.root;
  const state = ed.state;
  let gesture = null;

  root.addEventListener("pointerdown", function (event) {
    let el = event.target.closest(".ed-field");
    if (!el || el.classList.contains("ed-ghost") || event.button > 0) { return; }
    if (event.target.closest(".ed-fdel")) { return; }
    const f = state.byKey(Number(el.dataset.key));
    if (!f) { return; }
    event.preventDefault();
    const resizing = !!event.target.closest(".ed-fhandle");
    if (state.selected !== f.key) {
      ed.selectField(f.key);
      // render() replaced the elements: take the one under the pointer again
      const under = document.elementFromPoint(event.clientX, event.clientY);
      el = (under && under.closest(".ed-field[data-key='" + f.key + "']")) ||
        root.querySelector(".ed-field[data-key='" + f.key + "']");
    }
    const pageEl = el.closest(".ed-page");
    const rect = pageEl.getBoundingClientRect();
    const elRect = el.getBoundingClientRect();
    gesture = {
      id: event.pointerId, el: el, key: f.key, resizing: resizing, moved: false,
      x: event.clientX, y: event.clientY, scrollY: window.scrollY,
      start: Object.assign({}, f), startSize: state.sizePt(f),
      page: Number(pageEl.dataset.page), pageRect: rect,
      grabX: event.clientX - elRect.left, grabY: event.clientY - elRect.top
    };
    try { el.setPointerCapture(event.pointerId); } catch (error) { /* synthetic events */ }
  });

  root.addEventListener("pointermove", function (event) {
    const g = gesture;
    if (!g || g.id !== event.pointerId) { return; }
    const dx = event.clientX - g.x;
    const dy = event.clientY - g.y + (window.scrollY - g.scrollY);
    if (!g.moved && Math.hypot(dx, dy) < 3) { return; }
    g.moved = true;
    event.preventDefault();
    const f = state.byKey(g.key);
    const scale = g.pageRect.width / state.box(f.document, g.page).w;  // px per point
    if (g.resizing) {
      state.resizeFrom(f, g.start, g.startSize, dx / scale, dy / scale);
      ed.renderField(f);
    } else if (isCross(f)) {
      state.slideCross(f, g.start.top, dy / scale);
      ed.renderField(f);
    } else {
      // Follow the pointer freely (maybe onto another page); the drop decides the page.
      g.el.style.transform = "translate(" + dx + "px," + dy + "px)";
      g.el.classList.add("is-moving");
    }
    ed.autoScroll(event.clientY);
  });

  function endGesture(event, cancelled) {
    const g = gesture;
    if (!g || g.id !== event.pointerId) { return; }
    gesture = null;
    ed.stopScroll();
    if (!g.moved) { return; }
    const f = state.byKey(g.key);
    if (cancelled) {
      Object.assign(f, g.start);
    } else if (!g.resizing && !isCross(f)) {
      const own = ed.pageEls[f.document + ":" + g.page];
      const hit = ed.pageAt(event.clientX, event.clientY) || { page: g.page, el: own, rect: own.getBoundingClientRect() };
      state.dropAt(f, hit.page, (event.clientX - g.grabX - hit.rect.left) / hit.rect.width,
        (event.clientY - g.grabY - hit.rect.top) / hit.rect.height);
    }
    ed.markDirty();
    ed.render();
  }
  root.addEventListener("pointerup", function (event) { endGesture(event, false); });
  root.addEventListener("pointercancel", function (event) { endGesture(event, true); });

  root.addEventListener("click", function (event) {
    const del = event.target.closest(".ed-fdel");
    if (!del) { return; }
    event.stopPropagation();
    ed.removeField(Number(del.closest(".ed-field").dataset.key));
  });

  root.addEventListener("keydown", function (event) {
    const el = event.target.closest && event.target.closest(".ed-field");
    if (event.key === "Escape") {
      if (state.armed) { ed.disarm(); } else { ed.selectField(null); }
      return;
    }
    if (!el) { return; }
    const f = state.byKey(Number(el.dataset.key));
    if (!f) { return; }
    if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      ed.removeField(f.key);
      return;
    }
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      ed.selectField(f.key);
      return;
    }
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = moves[event.key];
    if (!move) { return; }
    event.preventDefault();
    const step = event.shiftKey ? 10 : 1;
    state.nudge(f, move[0] * step, move[1] * step);
    ed.markDirty();
    ed.selectField(f.key);
    const focus = root.querySelector(".ed-field[data-key='" + f.key + "']");
    if (focus) { focus.focus(); }
  });
}
