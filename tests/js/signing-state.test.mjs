// Unit tests of the signing page's staged state: what is staged, how it is counted, what is sent.
import assert from "node:assert/strict";
import { test } from "node:test";

import { StagedState, counted } from "../../src/qianshu/envelopes/static/qianshu/signing/state.mjs";

const A4 = [595.28, 841.89];
const close = (actual, expected, message) => assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ""} ${actual} ≠ ${expected}`);

// The messages as page.html renders them in English (#sg-text, one text for 1 and one for 2).
const T = {
  countSignatureOne: "{n} signature", countSignatureOther: "{n} signatures",
  countSealOne: "{n} seal", countSealOther: "{n} seals",
  countFilledOne: "{n} field filled", countFilledOther: "{n} fields filled",
  countAnd: ", "
};
// As the Chinese page renders them: the same text for both forms.
const ZH = {
  countSignatureOne: "已签名 {n} 处", countSignatureOther: "已签名 {n} 处",
  countSealOne: "已盖章 {n} 处", countSealOther: "已盖章 {n} 处",
  countFilledOne: "已填写 {n} 处", countFilledOther: "已填写 {n} 处",
  countAnd: "、"
};

function field(id, kind, doc = 10, page = 0) {
  return { id: id, doc: doc, kind: kind, label: kind, value: "", page: page, parts: [{ page: page, left: 0.1, top: 0.1, width: 0.2, height: 0.05 }] };
}

// As views/sign.py sends it (_turn_context): document 10 (three A4 pages) has fields, document
// 20 (one A4 page) is open to free placement, document 30 is certified (not free).
function data(role = "sign", fields = [], extra = {}) {
  return Object.assign({
    role: role,
    recipient: 7,
    needsCode: false,
    storageKey: "qianshu-sign:env:7",
    seen: { 10: "sha-a", 20: "sha-b", 30: "sha-c" },
    documents: [
      { id: 10, name: "合同.pdf", free: false, pages: [A4, A4, A4] },
      { id: 20, name: "附件.pdf", free: true, pages: [A4, A4, A4] },
      { id: 30, name: "证书.pdf", free: false, pages: [A4] }
    ],
    fields: fields,
    others: [],
    signatures: [{ id: 3, url: "/me/signatures/3/image/", default: true }],
    seals: [{ uuid: "s-1", name: "公章", org: "北京测试科技有限公司", url: "/seal/1.png" },
      { uuid: "s-2", name: "合同专用章", org: "北京测试科技有限公司", url: "/seal/2.png" }],
    sizes: { signature: [150, 50], seal: [119, 119], date: [100, 20], crossPage: 119 },
    free: true
  }, extra);
}

class Memory {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
  removeItem(key) { this.items.delete(key); }
}

test("nothing is staged at first: every field remains and nothing is sent", () => {
  const state = new StagedState(data("sign", [field(1, "signature"), field(2, "date")]));
  assert.deepEqual(state.remaining().map((f) => f.id), [1, 2]);
  assert.deepEqual(state.stagedFields(), []);
  assert.equal(state.stampUrl(), "");
});

test("一键盖章 as a signer fills the signatures and dates, not the seals or texts", () => {
  const fields = [field(1, "signature"), field(2, "date"), field(3, "text"), field(4, "seal")];
  const state = new StagedState(data("sign", fields));
  state.useSaved(data().signatures[0]);
  assert.equal(state.stampAll(), 2);
  assert.deepEqual(state.remaining().map((f) => f.id), [3, 4]);
  assert.equal(state.stampUrl(), "/me/signatures/3/image/");
});

test("一键盖章 as a seal holder fills seals, cross-page seals and dates", () => {
  const fields = [field(1, "seal"), field(2, "cross_page_seal"), field(3, "date"), field(4, "signature")];
  const state = new StagedState(data("seal", fields));
  state.seal = data().seals[1];
  assert.equal(state.stampAll(), 3);
  assert.deepEqual(state.remaining().map((f) => f.id), [4]);
  assert.equal(state.stampUrl(), "/seal/2.png");
});

test("a text field counts as filled only with something other than spaces", () => {
  const state = new StagedState(data("sign", [field(1, "text")]));
  state.texts[1] = "   ";
  assert.equal(state.isFilled(field(1, "text")), false);
  state.texts[1] = "  北京  ";
  assert.equal(state.isFilled(field(1, "text")), true);
  assert.deepEqual(state.stagedFields(), [{ field: 1, value: "北京" }]);
});

test("taking off the last signature takes its dates off too, and only then", () => {
  const state = new StagedState(data("sign", [field(1, "signature"), field(2, "signature"), field(3, "date")]));
  state.stampAll();
  state.unstage(field(1, "signature"));
  assert.deepEqual(Object.keys(state.filled).sort(), ["2", "3"]);
  state.unstage(field(2, "signature"));
  assert.deepEqual(state.filled, {});
});

test("the summary counts signatures and seals by kind with the singular or plural text", () => {
  const english = new Intl.PluralRules("en");
  const fields = [field(1, "signature"), field(2, "date"), field(3, "text")];
  const state = new StagedState(data("sign", fields));
  state.useDrawn("data:image/png;base64,AAAA");
  state.stampAll();
  state.texts[3] = "同意";
  assert.equal(state.summary(T, english), "1 signature");
  state.addFree("signature", "20", 0, 0.5);
  assert.equal(state.summary(T, english), "2 signatures");
  assert.equal(state.summary(ZH, new Intl.PluralRules("zh-CN")), "已签名 2 处");
});

test("seals and cross-page seals count together, next to signatures", () => {
  const fields = [field(1, "seal"), field(2, "cross_page_seal"), field(4, "signature")];
  const state = new StagedState(data("seal", fields));
  state.seal = data().seals[0];
  state.stampAll();
  state.filled[4] = true;
  assert.equal(state.summary(T, new Intl.PluralRules("en")), "1 signature, 2 seals");
  assert.equal(state.summary(ZH, null), "已签名 1 处、已盖章 2 处");
});

test("dates and texts are counted as filled only when nothing else was staged", () => {
  const state = new StagedState(data("sign", [field(1, "text"), field(2, "text")]));
  state.texts[1] = "甲";
  assert.equal(state.summary(T, new Intl.PluralRules("en")), "1 field filled");
  state.texts[2] = "乙";
  assert.equal(state.summary(T, new Intl.PluralRules("en")), "2 fields filled");
  assert.equal(state.summary(ZH, null), "已填写 2 处");
});

test("without plural rules, 1 is singular and every other number plural", () => {
  assert.equal(counted(T, null, "countSeal", 1), "1 seal");
  assert.equal(counted(T, null, "countSeal", 0), "0 seals");
  assert.equal(counted(T, { select: () => "one" }, "countSeal", 21), "21 seal");  // e.g. Russian 21
});

test("a free signature is centred across the page and around the given height, within the page", () => {
  const state = new StagedState(data());
  const stamp = state.addFree("signature", "20", 1, 0.5);
  close(stamp.width, 150 / A4[0]);
  close(stamp.height, 50 / A4[1]);
  close(stamp.left, 0.5 - stamp.width / 2);
  close(stamp.top, 0.5 - stamp.height / 2);
  assert.equal(stamp.doc, 20);
  assert.equal(stamp.page, 1);
  const low = state.addFree("seal", "20", 0, 0.99);
  close(low.top, 1 - 119 / A4[1], "kept on the page:");
  assert.notEqual(low.uid, stamp.uid);
});

test("a free cross-page seal spans its pages in equal strips on the right edge", () => {
  const state = new StagedState(data("seal"));
  const stamp = state.addCross("20", 0, 2);
  assert.deepEqual(stamp.pages, [0, 1, 2]);
  close(stamp.width, 119 / 3 / A4[0]);
  close(stamp.left, 1 - stamp.width);
  const parts = state.crossParts(stamp);
  assert.deepEqual(parts.map((p) => p.page), [0, 1, 2]);
  parts.forEach((p) => { close(p.left + p.width, 1); close(p.top, stamp.top); });
});

test("the payload of a PIN signing with a saved signature, fields and free stamps", () => {
  const state = new StagedState(data("sign", [field(1, "signature"), field(2, "date"), field(3, "text")]));
  state.useSaved(data().signatures[0]);
  state.stampAll();
  state.texts[3] = " 同意 ";
  const stamp = state.addFree("signature", "20", 2, 0.5);
  const body = state.payload("k".repeat(32), "123456");
  assert.deepEqual(body, {
    key: "k".repeat(32),
    recipient: 7,
    seen: { 10: "sha-a", 20: "sha-b", 30: "sha-c" },
    fields: [
      { field: 1 }, { field: 2 }, { field: 3, value: "同意" },
      { document: 20, kind: "signature", page: 2, left: stamp.left, top: stamp.top, width: stamp.width, height: stamp.height }
    ],
    seal: null,
    signature: null,
    signature_id: 3,
    pin: "123456"
  });
});

test("the payload of an SMS signing with a seal sends the code, the seal and cross-page pages", () => {
  const state = new StagedState(data("seal", [], { needsCode: true }));
  state.seal = data().seals[1];
  state.addCross("20", 1, 2);
  const body = state.payload("key", "654321");
  assert.equal(body.code, "654321");
  assert.equal("pin" in body, false);
  assert.equal(body.seal, "s-2");
  assert.equal(body.signature, null);
  assert.equal(body.signature_id, null);
  assert.deepEqual(body.fields.map((f) => [f.kind, f.page, f.pages]), [["cross_page_seal", 1, [1, 2]]]);
});

test("a drawn signature is sent as its image, not as a saved one", () => {
  const state = new StagedState(data("sign", [field(1, "signature")]));
  state.useDrawn("data:image/png;base64,iVBOR");
  state.stampAll();
  const body = state.payload("key", "000000");
  assert.equal(body.signature, "data:image/png;base64,iVBOR");
  assert.equal(body.signature_id, null);
});

test("a removed free stamp is no longer sent", () => {
  const state = new StagedState(data());
  state.useSaved(data().signatures[0]);
  const first = state.addFree("signature", "20", 0, 0.5);
  state.addFree("signature", "20", 1, 0.5);
  state.removeFree(first.uid);
  assert.deepEqual(state.stagedFields().map((f) => f.page), [1]);
});

test("a reload restores what was staged with the chosen signature", () => {
  const storage = new Memory();
  const fields = [field(1, "signature"), field(2, "date"), field(3, "text")];
  const before = new StagedState(data("sign", fields), storage);
  before.useSaved(data().signatures[0]);
  before.stampAll();
  before.texts[3] = "同意";
  before.addFree("signature", "20", 0, 0.5);
  before.save();
  const after = new StagedState(data("sign", fields), storage);
  assert.equal(after.restore(), true);
  assert.deepEqual(after.stagedFields(), before.stagedFields());
  assert.deepEqual(after.signature, { type: "saved", id: 3, url: "/me/signatures/3/image/" });
  after.forget();
  assert.equal(new StagedState(data("sign", fields), storage).restore(), false);
});

test("a reload drops what no longer applies: gone fields, non-free documents, a gone signature", () => {
  const storage = new Memory();
  storage.setItem("qianshu-sign:env:7", JSON.stringify({
    filled: { 1: true, 99: true },
    texts: { 3: "甲", 98: "乙" },
    free: [{ uid: 5, doc: 30, kind: "signature", page: 0, left: 0, top: 0, width: 0.1, height: 0.1 },
      { uid: 6, doc: 20, kind: "signature", page: 0, left: 0, top: 0, width: 0.1, height: 0.1 }],
    signature: { type: "saved", id: 3, url: "/elsewhere.png" },
    seal: null
  }));
  const fields = [field(1, "signature"), field(3, "text")];
  const state = new StagedState(data("sign", fields), storage);
  assert.equal(state.restore(), true);
  assert.deepEqual(state.filled, { 1: true });
  assert.deepEqual(state.texts, { 3: "甲" });
  assert.deepEqual(state.free.map((s) => s.doc), [20]);
  assert.equal(state.signature.url, "/me/signatures/3/image/", "the URL comes from the page, not storage");

  const noSignature = new StagedState(data("sign", fields, { signatures: [] }), storage);
  assert.equal(noSignature.restore(), false, "stamps without their signature are dropped");
  assert.deepEqual(noSignature.texts, { 3: "甲" }, "typed texts are kept");
});

test("a reload keeps a seal only if it is still usable, and its stamps only with it", () => {
  const storage = new Memory();
  storage.setItem("qianshu-sign:env:7", JSON.stringify({ filled: { 1: true }, texts: {}, free: [], signature: null, seal: { uuid: "s-2", url: "/x" } }));
  const kept = new StagedState(data("seal", [field(1, "seal")]), storage);
  assert.equal(kept.restore(), true);
  assert.equal(kept.seal.url, "/seal/2.png");
  const gone = new StagedState(data("seal", [field(1, "seal")], { seals: [data().seals[0]] }), storage);
  assert.equal(gone.restore(), false);
  assert.equal(gone.seal, null);
});

test("storage that is broken or refuses writes loses nothing on the page", () => {
  const broken = { getItem() { return "{not json"; }, setItem() { throw new Error("quota"); }, removeItem() { throw new Error("no"); } };
  const state = new StagedState(data("sign", [field(1, "signature")]), broken);
  assert.equal(state.restore(), false);
  state.useDrawn("data:image/png;base64,AA");
  state.stampAll();
  state.save();
  state.forget();
  assert.deepEqual(state.stagedFields(), [{ field: 1 }]);
  const none = new StagedState(data("sign", [field(1, "signature")]), null);
  assert.equal(none.restore(), false);
  none.save();
});
