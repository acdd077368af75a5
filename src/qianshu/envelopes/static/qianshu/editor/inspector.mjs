/* The field editor's inspector: the selected field's recipient, kind, page, size (millimetres),
 * label, and a cross-page seal's pages and height. */
import { mmFromPt, ptFromMm } from "../geometry.mjs";
import { format } from "../format.mjs";
import { isCross, isRound } from "./state.mjs";

export function setupInspector(ed) {
  const root = ed.root;
  const state = ed.state;
  const S = ed.strings;
  const inspector = root.querySelector("[data-inspector]");

  const insp = {
    title: inspector.querySelector("[data-insp-title]"),
    dot: inspector.querySelector("[data-insp-dot]"),
    recipient: inspector.querySelector("[data-insp-recipient]"),
    kind: inspector.querySelector("[data-insp-kind]"),
    page: inspector.querySelector("[data-insp-page]"),
    w: inspector.querySelector("[data-insp-w]"),
    h: inspector.querySelector("[data-insp-h]"),
    d: inspector.querySelector("[data-insp-d]"),
    label: inspector.querySelector("[data-insp-label]"),
    pages: inspector.querySelector("[data-insp-pages]"),
    pos: inspector.querySelector("[data-insp-pos]")
  };

  function options(select, items, value) {
    select.innerHTML = "";
    items.forEach(function (item) {
      const option = document.createElement("option");
      option.value = String(item[0]);
      option.textContent = item[1];
      select.appendChild(option);
    });
    select.value = String(value);
  }

  function show(part, on) {
    inspector.querySelectorAll("[data-insp-for='" + part + "']").forEach(function (el) { el.hidden = !on; });
  }

  function selected() { return state.byKey(state.selected); }

  ed.renderInspector = function () {
    const f = state.selected === null ? null : selected();
    inspector.hidden = !f;
    root.classList.toggle("has-selection", !!f);
    if (!f) { return; }
    const r = state.recipients[f.recipient];
    insp.title.textContent = state.labelOf(f);
    insp.dot.style.setProperty("--c", r.colour);
    options(insp.recipient, state.recipientChoices(f).map(function (x) {
      return [x.id, format(S.recipientOption, { name: x.name, role: x.roleLabel })];
    }), f.recipient);
    options(insp.kind, state.kindChoices(f).map(function (k) { return [k, state.kinds[k].label]; }), f.kind);
    const pageCount = state.pageCount(f.document);
    show("page", !isCross(f) && pageCount > 1);
    if (!isCross(f)) {
      options(insp.page, state.documents[f.document].pages.map(function (_, i) {
        return [i, format(S.page, { n: i + 1 })];
      }), f.page);
    }
    const size = state.sizePt(f);
    show("size", !isRound(f.kind));
    show("diameter", isRound(f.kind));
    if (document.activeElement !== insp.w) { insp.w.value = String(Math.round(mmFromPt(size.w))); }
    if (document.activeElement !== insp.h) { insp.h.value = String(Math.round(mmFromPt(size.h))); }
    if (document.activeElement !== insp.d) { insp.d.value = String(Math.round(mmFromPt(size.h))); }
    show("label", f.kind === "text");
    if (document.activeElement !== insp.label) { insp.label.value = f.label || ""; }
    show("cross", isCross(f));
    if (isCross(f)) {
      insp.pages.innerHTML = "";
      state.documents[f.document].pages.forEach(function (_, i) {
        const label = document.createElement("label");
        label.className = "ed-pagecheck";
        const check = document.createElement("input");
        check.type = "checkbox";
        check.value = String(i);
        check.checked = f.pages.indexOf(i) >= 0;
        label.appendChild(check);
        label.appendChild(document.createTextNode(String(i + 1)));
        insp.pages.appendChild(label);
      });
      insp.pos.value = String(state.crossPosition(f));
    }
  };

  insp.recipient.addEventListener("change", function () {
    selected().recipient = Number(insp.recipient.value);
    ed.markDirty();
    ed.render();
  });

  insp.kind.addEventListener("change", function () {
    state.changeKind(selected(), insp.kind.value);
    ed.markDirty();
    ed.render();
  });

  insp.page.addEventListener("change", function () {
    const f = selected();
    state.movePage(f, Number(insp.page.value));
    ed.markDirty();
    ed.render();
    const el = ed.pageEls[f.document + ":" + f.page];
    if (el) { el.scrollIntoView({ behavior: "smooth", block: "center" }); }
  });

  function sizeChanged() {
    const f = selected();
    const size = state.sizePt(f);
    const w = parseFloat(insp.w.value);
    const h = parseFloat(insp.h.value);
    const d = parseFloat(insp.d.value);
    if (isRound(f.kind)) {
      if (!isNaN(d)) { state.setSizePt(f, ptFromMm(d), ptFromMm(d)); }
    } else {
      state.setSizePt(f, isNaN(w) ? size.w : ptFromMm(w), isNaN(h) ? size.h : ptFromMm(h));
    }
    ed.markDirty();
    ed.render();
  }
  [insp.w, insp.h, insp.d].forEach(function (el) { el.addEventListener("change", sizeChanged); });

  insp.label.addEventListener("input", function () {
    const f = selected();
    state.setLabel(f, insp.label.value);
    ed.markDirty();
    // only the label text changes: keep the focus in the input
    root.querySelectorAll(".ed-field[data-key='" + f.key + "'] .ed-flabel").forEach(function (el) {
      el.textContent = (state.recipients[f.recipient].name + " · ") + (f.label || state.kinds[f.kind].label);
    });
  });
  insp.label.addEventListener("change", function () { ed.render(); });

  insp.pages.addEventListener("change", function (event) {
    const chosen = Array.prototype.slice.call(insp.pages.querySelectorAll("input:checked"))
      .map(function (el) { return Number(el.value); });
    if (!state.setCrossPages(selected(), chosen)) {
      event.target.checked = true;
      ed.showError(S.needTwoPages);
      return;
    }
    ed.markDirty();
    ed.render();
  });

  inspector.querySelector("[data-insp-allpages]").addEventListener("click", function () {
    state.crossAllPages(selected());
    ed.markDirty();
    ed.render();
  });

  insp.pos.addEventListener("input", function () {
    const f = selected();
    state.setCrossPosition(f, Number(insp.pos.value));
    ed.markDirty();
    ed.renderField(f);
  });

  inspector.querySelectorAll("[data-insp-delete]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (state.selected !== null) { ed.removeField(state.selected); }
    });
  });
  const more = inspector.querySelector("[data-insp-more]");
  more.addEventListener("click", function () {
    const open = !inspector.classList.contains("is-expanded");
    inspector.classList.toggle("is-expanded", open);
    more.setAttribute("aria-expanded", String(open));
  });
  inspector.querySelector("[data-insp-close]").addEventListener("click", function () { ed.selectField(null); });
}
