/* Draws the signing page's fields: the signer's own (to click, filled, or a text box), other
   parties' (grey, with their name) and the free stamps placed anywhere (指定位置签署).

   Sets ctx.render and ctx.updateCount. */
import { place } from "../geometry.mjs";
import { format } from "../format.mjs";
import { $all } from "./dom.mjs";
import { makeDraggable } from "./placing.mjs";

function removeButton(T, onRemove) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "sg-remove";
  button.setAttribute("aria-label", T.remove);
  button.textContent = "×";
  button.addEventListener("click", function (event) { event.stopPropagation(); onRemove(); });
  button.addEventListener("pointerdown", function (event) { event.stopPropagation(); });
  return button;
}

function fillContent(ctx, el, kind, index, count, label) {
  const url = ctx.state.stampUrl();
  if (kind === "date") {
    const span = document.createElement("span");
    span.className = "sg-fit sg-date";
    span.textContent = ctx.D.today;
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

export function drawOthers(ctx) {
  ctx.D.others.forEach(function (field) {
    field.parts.forEach(function (part) {
      const page = ctx.pageEl(field.doc, part.page);
      if (!page) { return; }
      const el = document.createElement("div");
      el.className = "sg-field is-other";
      el.title = format(ctx.T.fieldsOf, { name: field.name });
      const label = document.createElement("span");
      label.className = "sg-field-label";
      label.textContent = field.name;
      el.appendChild(label);
      place(el, part);
      page.appendChild(el);
    });
  });
}

function textInput(ctx, field, el) {
  const state = ctx.state;
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
    state.save();
    ctx.updateCount();
  });
  return input;
}

function mineElement(ctx, field, filled, part, index) {
  const el = document.createElement("div");
  el.className = "sg-field is-mine sg-kind-" + field.kind + (filled ? " is-filled" : "");
  el.dataset.field = field.id;
  el.setAttribute("data-testid", "sign-field");
  place(el, part);
  if (field.kind === "text") {
    el.appendChild(textInput(ctx, field, el));
  } else if (filled) {
    fillContent(ctx, el, field.kind, index, field.parts.length, field.label);
    // Dates go with the signature or seal: they have no button of their own.
    if (field.kind !== "date") {
      el.appendChild(removeButton(ctx.T, function () { ctx.state.unstage(field); ctx.state.save(); ctx.render(); }));
    }
  } else {
    const label = document.createElement("span");
    label.className = "sg-field-label";
    label.textContent = field.label;
    el.appendChild(label);
    el.setAttribute("role", "button");
    el.tabIndex = 0;
    el.addEventListener("click", ctx.startStamping);
    el.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); ctx.startStamping(); }
    });
  }
  return el;
}

function drawMine(ctx) {
  $all(".sg-field.is-mine").forEach(function (el) { el.remove(); });
  ctx.D.fields.forEach(function (field) {
    const filled = ctx.state.isFilled(field);
    field.parts.forEach(function (part, index) {
      const page = ctx.pageEl(field.doc, part.page);
      if (!page) { return; }
      page.appendChild(mineElement(ctx, field, filled, part, index));
    });
  });
}

function drawFree(ctx) {
  const state = ctx.state, T = ctx.T;
  $all(".sg-placed").forEach(function (el) { el.remove(); });
  state.free.forEach(function (stamp) {
    const parts = stamp.kind === "cross_page_seal" ? state.crossParts(stamp) : [stamp];
    parts.forEach(function (part, index) {
      const page = ctx.pageEl(stamp.doc, part.page);
      if (!page) { return; }
      const el = document.createElement("div");
      el.className = "sg-placed sg-kind-" + stamp.kind;
      el.setAttribute("data-testid", "sign-stamp-placed");
      el.dataset.uid = stamp.uid;
      place(el, part);
      fillContent(ctx, el, stamp.kind, index, parts.length, stamp.kind === "signature" ? T.signed : T.sealed);
      el.appendChild(removeButton(T, function () {
        state.removeFree(stamp.uid);
        state.save();
        ctx.render();
      }));
      if (stamp.kind !== "cross_page_seal") {
        const handle = document.createElement("span");
        handle.className = "sg-resize";
        handle.setAttribute("aria-hidden", "true");
        el.appendChild(handle);
      }
      makeDraggable(ctx, el, stamp, page);
      page.appendChild(el);
    });
  });
}

export function setupFields(ctx) {
  ctx.updateCount = function () {
    const count = document.getElementById("sg-count");
    const left = ctx.state.remaining().length;
    if (count) { count.textContent = ctx.D.fields.length && left ? "(" + left + ")" : ""; }
  };
  ctx.render = function () {
    drawMine(ctx);
    drawFree(ctx);
    ctx.updateCount();
    ctx.layout();
  };
}
