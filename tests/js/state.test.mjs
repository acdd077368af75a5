// Unit tests of the field editor's state: how fields are added, moved, resized and sent.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FieldState, isCross, isRound } from "../../src/qianshu/envelopes/static/qianshu/editor/state.mjs";
import { crossStrip } from "../../src/qianshu/core/static/qianshu/geometry.mjs";

const A4 = { x1: 0, y1: 0, w: 595.28, h: 841.89 };
const A5 = { x1: 0, y1: 0, w: 420.94, h: 595.28 };
const close = (actual, expected, message) => assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ""} ${actual} ≠ ${expected}`);

// As views/compose.py sends it (_editor_config): document 10 has three A4 pages, 20 one page,
// 30 an A4 page then an A5 page.
function config(fields = []) {
  return {
    minSide: 12,
    kinds: {
      signature: { label: "签名", w: 150, h: 50 },
      seal: { label: "印章", w: 119, h: 119 },
      cross_page_seal: { label: "骑缝章", w: 119, h: 119 },
      date: { label: "签署日期", w: 100, h: 20 },
      text: { label: "填写内容", w: 150, h: 24 }
    },
    documents: [
      { id: 10, name: "合同.pdf", pages: [A4, A4, A4] },
      { id: 20, name: "附件.pdf", pages: [A4] },
      { id: 30, name: "混合.pdf", pages: [A4, A5] }
    ],
    recipients: [
      { id: 1, name: "李博文", role: "sign", roleLabel: "签署", colour: "#c00", kinds: ["signature", "date", "text"] },
      { id: 2, name: "北京测试科技有限公司", role: "seal", roleLabel: "盖章", colour: "#00c",
        kinds: ["seal", "cross_page_seal", "date", "text"] }
    ],
    fields: fields,
    strings: {}
  };
}

test("starts on the first document and recipient with nothing chosen and nothing changed", () => {
  const state = new FieldState(config());
  assert.equal(state.doc, 10);
  assert.equal(state.recipient, 1);
  assert.equal(state.selected, null);
  assert.equal(state.armed, null);
  assert.equal(state.dirty, false);
  assert.equal(state.minPt, 16, "never smaller than 16 pt, whatever the server's minimum");
});

test("saved fields get local keys and their own copy of the pages", () => {
  const pages = [0, 2];
  const saved = { recipient: 2, document: 10, kind: "cross_page_seal", page: 0, pages: pages, label: "",
    left: 0.9, top: 0.2, width: 0.2, height: 0.14 };
  const state = new FieldState(config([saved, { ...saved, kind: "seal", pages: undefined }]));
  assert.deepEqual(state.fields.map((f) => f.key), [1, 2]);
  state.fields[0].pages.push(1);
  assert.deepEqual(pages, [0, 2]);
  assert.deepEqual(state.fields[1].pages, []);
  assert.equal(state.add("date", 1, 10, 0, 0.5, 0.5).key, 3);
});

test("a new field is centred where it was dropped, at its default size in points", () => {
  const state = new FieldState(config());
  const f = state.add("signature", 1, 10, 1, 0.5, 0.25);
  close(f.width * A4.w, 150);
  close(f.height * A4.h, 50);
  close(f.left + f.width / 2, 0.5);
  close(f.top + f.height / 2, 0.25);
  assert.equal(f.page, 1);
  assert.equal(state.fields.length, 1);
});

test("a new field dropped at a page's corner stays on the page", () => {
  const state = new FieldState(config());
  const corner = state.add("signature", 1, 10, 0, 0.99, 0.99);
  close(corner.left, 1 - corner.width);
  close(corner.top, 1 - corner.height);
  const origin = state.add("signature", 1, 10, 0, 0, 0);
  assert.equal(origin.left, 0);
  assert.equal(origin.top, 0);
});

test("a new cross-page seal takes every page, flush with the right edge, at the height dropped", () => {
  const state = new FieldState(config());
  const f = state.add("cross_page_seal", 2, 10, 2, 0.1, 0.5);
  assert.deepEqual(f.pages, [0, 1, 2]);
  assert.equal(f.page, 0);
  close(f.height * A4.h, 119);
  close(f.left, 1 - f.width / 3);
  close(f.top + f.height / 2, 0.5);
  for (const page of f.pages) {
    const strip = state.stripOn(f, page);
    close(strip.left + strip.width, 1, `page ${page}`);
    close(strip.width * A4.w, 119 / 3);
  }
});

test("stripOn is the shared geometry's strip on pages of different sizes", () => {
  const state = new FieldState(config());
  const f = state.add("cross_page_seal", 2, 30, 0, 0.5, 0.9);
  const strip = state.stripOn(f, 1);
  assert.deepEqual(strip, crossStrip(A4, A5, f.top, f.height, 2));
  // the centre at the same PDF height (from the bottom) on the A4 and the A5 page
  close((1 - strip.top - strip.height / 2) * A5.h, (1 - f.top - f.height / 2) * A4.h);
});

test("resizing keeps a field above the smallest size and within its page", () => {
  const state = new FieldState(config());
  const f = state.add("signature", 1, 10, 0, 0.5, 0.5);
  state.setSizePt(f, 2, 3);
  close(f.width * A4.w, 16);
  close(f.height * A4.h, 16);
  state.setSizePt(f, 2000, 60);
  close(f.width, 1);
  assert.equal(f.left, 0);
});

test("a seal stays round: resized to the smaller side", () => {
  const state = new FieldState(config());
  const f = state.add("seal", 2, 10, 0, 0.5, 0.5);
  state.setSizePt(f, 100, 80);
  close(f.width * A4.w, 80);
  close(f.height * A4.h, 80);
  assert.ok(isRound("seal") && isRound("cross_page_seal") && !isRound("signature"));
});

test("a cross-page seal's size stays between 40 and 200 pt and keeps its centre", () => {
  const state = new FieldState(config());
  const f = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  state.setSizePt(f, 10, 10);
  close(f.height * A4.h, 40);
  close(f.top + f.height / 2, 0.5);
  state.setSizePt(f, 500, 500);
  close(f.height * A4.h, 200);
  close(f.left, 1 - f.width / 3);
});

test("dragging the corner handle: a round seal grows by the larger move, a cross-page seal keeps its top", () => {
  const state = new FieldState(config());
  const seal = state.add("seal", 2, 10, 0, 0.5, 0.5);
  const start = { ...seal };
  state.resizeFrom(seal, start, state.sizePt(seal), 10, 30);
  close(seal.width * A4.w, 149);
  close(seal.height * A4.h, 149);

  const cross = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  const crossStart = { ...cross };
  state.resizeFrom(cross, crossStart, state.sizePt(cross), 0, 20);
  close(cross.height * A4.h, 139);
  close(cross.top, crossStart.top);
});

test("arrow keys move by points; a cross-page seal only up and down", () => {
  const state = new FieldState(config());
  const f = state.add("signature", 1, 10, 0, 0.5, 0.5);
  const before = { ...f };
  state.nudge(f, 10, -1);
  close((f.left - before.left) * A4.w, 10);
  close((before.top - f.top) * A4.h, 1);
  state.nudge(f, -10000, 0);
  assert.equal(f.left, 0);

  const cross = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  const left = cross.left;
  state.nudge(cross, -50, 10);
  assert.equal(cross.left, left);
  close((cross.top * A4.h), (0.5 - cross.height / 2) * A4.h + 10);
});

test("sliding a cross-page seal stays within the page", () => {
  const state = new FieldState(config());
  const f = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  state.slideCross(f, f.top, 10000);
  close(f.top, 1 - f.height);
  state.slideCross(f, 0.3, -A4.h);
  assert.equal(f.top, 0);
});

test("a field dropped on a page of another size keeps its size in points", () => {
  const state = new FieldState(config());
  const f = state.add("signature", 1, 30, 0, 0.5, 0.5);
  state.dropAt(f, 1, 0.9, -0.2);
  assert.equal(f.page, 1);
  close(f.width * A5.w, 150);
  close(f.height * A5.h, 50);
  close(f.left, 1 - f.width);
  assert.equal(f.top, 0);
});

test("another page from the inspector keeps the size in points", () => {
  const state = new FieldState(config());
  const f = state.add("text", 1, 30, 0, 0.2, 0.2);
  state.movePage(f, 1);
  assert.equal(f.page, 1);
  close(f.width * A5.w, 150);
});

test("another kind: a new field where the old one was, with its key and label", () => {
  const state = new FieldState(config());
  const f = state.add("text", 2, 10, 1, 0.3, 0.4);
  f.label = "金额";
  const seal = state.changeKind(f, "seal");
  assert.equal(state.fields.length, 1);
  assert.equal(state.fields[0], seal);
  assert.equal(seal.key, f.key);
  assert.equal(seal.label, "金额");
  assert.equal(seal.page, 1);
  close(seal.left + seal.width / 2, 0.3);
  close(seal.top + seal.height / 2, 0.4);

  const cross = state.changeKind(seal, "cross_page_seal");
  assert.deepEqual(cross.pages, [0, 1, 2]);
  close(cross.top + cross.height / 2, 0.4);
  const back = state.changeKind(cross, "seal");
  assert.equal(back.page, 0);
  close(back.left + back.width / 2, 0.8);
});

test("a cross-page seal needs two pages: fewer changes nothing", () => {
  const state = new FieldState(config());
  const f = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  const before = JSON.stringify(f);
  assert.equal(state.setCrossPages(f, [1]), false);
  assert.equal(JSON.stringify(f), before);
  assert.equal(state.setCrossPages(f, [1, 2]), true);
  assert.deepEqual(f.pages, [1, 2]);
  assert.equal(f.page, 1);
  close(f.height * A4.h, 119);
  close(f.left, 1 - f.width / 2);
  state.crossAllPages(f);
  assert.deepEqual(f.pages, [0, 1, 2]);
  assert.equal(f.page, 0);
});

test("a cross-page seal's position as a percentage goes both ways", () => {
  const state = new FieldState(config());
  const f = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  state.setCrossPosition(f, 0);
  assert.equal(state.crossPosition(f), 0);
  state.setCrossPosition(f, 100);
  close(f.top, 1 - f.height);
  assert.equal(state.crossPosition(f), 100);
  state.setCrossPosition(f, 37);
  assert.equal(state.crossPosition(f), 37);
});

test("labels are cut at 60 characters; a field's name is its recipient and kind", () => {
  const state = new FieldState(config());
  const f = state.add("text", 1, 10, 0, 0.5, 0.5);
  state.setLabel(f, "字".repeat(80));
  assert.equal(f.label.length, 60);
  assert.equal(state.labelOf(f), "李博文 · 填写内容");
});

test("choices: recipients who may have the kind; 骑缝章 only on a document of two pages or more", () => {
  const state = new FieldState(config());
  const date = state.add("date", 2, 20, 0, 0.5, 0.5);
  assert.deepEqual(state.recipientChoices(date).map((r) => r.id), [1, 2]);
  assert.deepEqual(state.kindChoices(date), ["seal", "date", "text"]);
  const seal = state.add("seal", 2, 10, 0, 0.5, 0.5);
  assert.deepEqual(state.recipientChoices(seal).map((r) => r.id), [2]);
  assert.deepEqual(state.kindChoices(seal), ["seal", "cross_page_seal", "date", "text"]);
});

test("removing the selected field clears the selection; counts per recipient", () => {
  const state = new FieldState(config());
  const a = state.add("signature", 1, 10, 0, 0.5, 0.5);
  const b = state.add("date", 1, 10, 0, 0.5, 0.8);
  state.add("seal", 2, 10, 0, 0.5, 0.5);
  state.selected = a.key;
  state.remove(b.key);
  assert.equal(state.selected, a.key);
  assert.equal(state.countFor(1), 1);
  state.remove(a.key);
  assert.equal(state.selected, null);
  assert.equal(state.countFor(1), 0);
  assert.equal(state.countFor(2), 1);
});

test("the payload: no local keys, a cross-page seal's pages in order with the first as its page", () => {
  const state = new FieldState(config());
  const text = state.add("text", 1, 10, 2, 0.5, 0.5);
  text.label = "金额";
  const cross = state.add("cross_page_seal", 2, 10, 0, 0.5, 0.5);
  state.setCrossPages(cross, [2, 0]);
  const body = JSON.parse(JSON.stringify(state.payload()));
  assert.deepEqual(Object.keys(body.fields[0]).sort(),
    ["document", "height", "kind", "label", "left", "page", "recipient", "top", "width"]);
  assert.equal(body.fields[0].label, "金额");
  assert.equal(body.fields[0].page, 2);
  assert.deepEqual(body.fields[1].pages, [0, 2]);
  assert.equal(body.fields[1].page, 0);
  assert.deepEqual(cross.pages, [2, 0], "the field itself is left as it is");
  assert.ok(isCross(cross) && !isCross(text));
});
