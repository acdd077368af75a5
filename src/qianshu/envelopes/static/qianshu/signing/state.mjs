/* The signing page's staged stamps (文件签署), with no page element touched.

   `data` is the page data (#signing-data, views/sign.py): the documents with their page sizes
   ([width, height] in points), the signer's own fields and their parts in fractions of the page,
   the saved signatures or usable seals, the sizes of a free stamp. What is staged:

     filled     { fieldId: true } for signature, seal, cross-page seal and date fields
     texts      { fieldId: "…" } for text fields
     free       stamps placed anywhere (指定位置签署): { uid, doc, kind, page, left, top, width,
                height }, a cross-page seal with its `pages`, its box in fractions of its first page
     signature  { type: "saved", id, url } or { type: "drawn", data } (a PNG data URL)
     seal       one of data.seals

   `storage` is sessionStorage (or anything with getItem / setItem / removeItem): a reload keeps
   what was staged.
*/
import { boxFromPair, centredStart, crossStrip } from "../geometry.mjs";
import { format } from "../format.mjs";

const STAMP_KINDS = { seal: ["seal", "cross_page_seal", "date"], sign: ["signature", "date"] };

/** A counted message: `T[name + "One"]` when the language calls `n` singular, else "…Other". */
export function counted(T, plurals, name, n) {
  const one = plurals ? plurals.select(n) === "one" : n === 1;
  return format(T[name + (one ? "One" : "Other")], { n: n });
}

export class StagedState {
  constructor(data, storage) {
    this.data = data;
    this.storage = storage || null;
    this.isSeal = data.role === "seal";
    this.docs = {};
    data.documents.forEach((doc) => { this.docs[doc.id] = doc; });
    this.filled = {};
    this.texts = {};
    this.free = [];
    this.signature = null;
    this.seal = null;
    this.uid = 0;
  }

  toJSON() {
    return { filled: this.filled, texts: this.texts, free: this.free, signature: this.signature, seal: this.seal };
  }

  save() {
    if (!this.storage) { return; }
    try { this.storage.setItem(this.data.storageKey, JSON.stringify(this)); } catch (e) { /* private mode, quota */ }
  }

  forget() {
    if (!this.storage) { return; }
    try { this.storage.removeItem(this.data.storageKey); } catch (e) { /* ignore */ }
  }

  /** Takes back what a previous load of the page staged; true when a stamp came back. */
  restore() {
    let saved = null;
    try { saved = JSON.parse((this.storage && this.storage.getItem(this.data.storageKey)) || "null"); } catch (e) { saved = null; }
    if (!saved || typeof saved !== "object") { return false; }
    const D = this.data;
    const ids = {};
    D.fields.forEach((f) => { ids[f.id] = true; });
    Object.keys(saved.filled || {}).forEach((id) => { if (ids[id]) { this.filled[id] = true; } });
    Object.keys(saved.texts || {}).forEach((id) => { if (ids[id]) { this.texts[id] = String(saved.texts[id]); } });
    (saved.free || []).forEach((s) => {
      if (this.docs[s.doc] && this.docs[s.doc].free) { s.uid = ++this.uid; this.free.push(s); }
    });
    const sig = saved.signature;
    if (sig && sig.type === "drawn" && typeof sig.data === "string") { this.signature = sig; }
    if (sig && sig.type === "saved") {
      const found = D.signatures.filter((s) => s.id === sig.id)[0];
      if (found) { this.signature = { type: "saved", id: found.id, url: found.url }; }
    }
    if (saved.seal) { this.seal = D.seals.filter((s) => s.uuid === saved.seal.uuid)[0] || null; }
    if (!this.signature && !this.isSeal) { this.filled = {}; this.free = []; }
    if (!this.seal && this.isSeal) { this.filled = {}; this.free = []; }
    // Date fields were filled along with a signature or seal; restore them only with it.
    return Object.keys(this.filled).length > 0 || this.free.length > 0;
  }

  /** The image of the chosen signature or seal ("" before one is chosen). */
  stampUrl() {
    if (this.isSeal) { return this.seal ? this.seal.url : ""; }
    if (!this.signature) { return ""; }
    return this.signature.type === "drawn" ? this.signature.data : this.signature.url;
  }

  useSaved(signature) { this.signature = { type: "saved", id: signature.id, url: signature.url }; }

  useDrawn(dataUrl) { this.signature = { type: "drawn", data: dataUrl }; }

  isFilled(field) {
    if (field.kind === "text") { return Boolean((this.texts[field.id] || "").trim()); }
    return Boolean(this.filled[field.id]);
  }

  /** The signer's fields not filled yet. */
  remaining() { return this.data.fields.filter((f) => !this.isFilled(f)); }

  /** 一键盖章: fills every field the chosen signature or seal goes in; returns how many. */
  stampAll() {
    const kinds = STAMP_KINDS[this.isSeal ? "seal" : "sign"];
    let count = 0;
    this.data.fields.forEach((field) => {
      if (kinds.indexOf(field.kind) >= 0) { this.filled[field.id] = true; count += 1; }
    });
    return count;
  }

  /** Takes a stamp off its field; the dates go too once no signature or seal is left. */
  unstage(field) {
    delete this.filled[field.id];
    const stamped = this.data.fields.some((f) => f.kind !== "date" && f.kind !== "text" && this.filled[f.id]);
    if (!stamped) {
      this.data.fields.forEach((f) => { if (f.kind === "date") { delete this.filled[f.id]; } });
    }
  }

  /** Places a free signature or seal on a page, centred across and around `centre` down it. */
  addFree(kind, docId, page, centre) {
    const box = this.docs[docId].pages[page];
    const size = kind === "seal" ? this.data.sizes.seal : this.data.sizes.signature;
    const width = size[0] / box[0], height = size[1] / box[1];
    const stamp = {
      uid: ++this.uid, doc: this.docs[docId].id, kind: kind, page: page,
      left: centredStart(0.5, width), top: centredStart(centre, height), width: width, height: height
    };
    this.free.push(stamp);
    return stamp;
  }

  /** Places a free cross-page seal over pages `from`…`to` (0-based) on their right edge. */
  addCross(docId, from, to) {
    const doc = this.docs[docId];
    const pages = [];
    for (let p = from; p <= to; p += 1) { pages.push(p); }
    const first = doc.pages[pages[0]];
    const side = this.data.sizes.crossPage;
    const height = side / first[1];
    const stamp = {
      uid: ++this.uid, doc: doc.id, kind: "cross_page_seal", pages: pages, page: pages[0],
      left: 1 - side / pages.length / first[0], width: side / pages.length / first[0],
      top: centredStart(0.5, height), height: height
    };
    this.free.push(stamp);
    return stamp;
  }

  removeFree(uid) { this.free = this.free.filter((s) => s.uid !== uid); }

  /** A free cross-page seal's strips, one per page: where the server will draw them. */
  crossParts(stamp) {
    const pages = this.docs[stamp.doc].pages;
    const first = boxFromPair(pages[stamp.pages[0]]);
    return stamp.pages.map((page) => {
      const strip = crossStrip(first, boxFromPair(pages[page]), stamp.top, stamp.height, stamp.pages.length);
      return Object.assign({ page: page }, strip);
    });
  }

  /** What the signer staged, by kind: 已签名 2 处 (signatures), 已盖章 1 处 (seals and
   *  cross-page seals); dates and text fields only count when nothing else was staged. */
  summary(T, plurals) {
    const kinds = this.data.fields.filter((f) => this.isFilled(f)).map((f) => f.kind)
      .concat(this.free.map((s) => s.kind));
    const signatures = kinds.filter((k) => k === "signature").length;
    const seals = kinds.filter((k) => k === "seal" || k === "cross_page_seal").length;
    const parts = [];
    if (signatures) { parts.push(counted(T, plurals, "countSignature", signatures)); }
    if (seals) { parts.push(counted(T, plurals, "countSeal", seals)); }
    if (!parts.length) { parts.push(counted(T, plurals, "countFilled", kinds.length)); }
    return parts.join(T.countAnd);
  }

  /** The staged fields and free stamps as the server takes them (views/sign.py). */
  stagedFields() {
    const out = [];
    this.data.fields.forEach((field) => {
      if (!this.isFilled(field)) { return; }
      out.push(field.kind === "text" ? { field: field.id, value: this.texts[field.id].trim() } : { field: field.id });
    });
    this.free.forEach((s) => {
      const item = { document: s.doc, kind: s.kind, page: s.page, left: s.left, top: s.top, width: s.width, height: s.height };
      if (s.kind === "cross_page_seal") { item.pages = s.pages; }
      out.push(item);
    });
    return out;
  }

  /** The body of the one signing POST: `key` is the page load's idempotency key, `secret` the
   *  signing PIN or the SMS code. */
  payload(key, secret) {
    const D = this.data;
    const body = {
      key: key,
      recipient: D.recipient,
      seen: D.seen,
      fields: this.stagedFields(),
      seal: this.seal ? this.seal.uuid : null,
      signature: this.signature && this.signature.type === "drawn" ? this.signature.data : null,
      signature_id: this.signature && this.signature.type === "saved" ? this.signature.id : null
    };
    body[D.needsCode ? "code" : "pin"] = secret;
    return body;
  }
}
