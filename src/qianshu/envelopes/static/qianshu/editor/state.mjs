/* The field editor's state: the fields being placed and what is chosen, with every rule that
 * changes a field's page, box or kind. No page element is touched here (see field-view.mjs).
 *
 * A field is { key, recipient, document, kind, page, pages, label, left, top, width, height }
 * in fractions of its page (origin top-left), as the server expects it; `key` is local to the
 * page. A cross-page seal (骑缝章) keeps its whole seal in fractions of its first page; its
 * strips are worked out per page (stripOn).
 */
import { centredStart, clamp, crossStrip } from "../geometry.mjs";

export const CROSS = "cross_page_seal";

export function isCross(f) { return f.kind === CROSS; }

export function isRound(kind) { return kind === "seal" || kind === CROSS; }

// A cross-page seal's whole seal stays between these sizes (points).
const CROSS_MIN_PT = 40;
const CROSS_MAX_PT = 200;

export class FieldState {
  /** `config` is the editor's page data (#field-editor-data, views/compose.py). */
  constructor(config) {
    this.kinds = config.kinds;
    this.minPt = Math.max(config.minSide, 16);
    this.recipientList = config.recipients;
    this.recipients = {};
    this.documents = {};
    config.recipients.forEach((r) => { this.recipients[r.id] = r; });
    config.documents.forEach((d) => { this.documents[d.id] = d; });
    this.nextKey = 1;
    this.fields = config.fields.map((f) => Object.assign({}, f, { key: this.nextKey++, pages: (f.pages || []).slice() }));
    this.doc = config.documents.length ? config.documents[0].id : null;
    this.recipient = config.recipients.length ? config.recipients[0].id : null;
    this.selected = null;  // key of the selected field
    this.armed = null;  // kind waiting for a tap on a page
    this.dirty = false;
    this.saving = false;
  }

  box(docId, page) { return this.documents[docId].pages[page]; }

  pageCount(docId) { return this.documents[docId].pages.length; }

  byKey(key) { return this.fields.find((f) => f.key === key); }

  /** The box a field's fractions refer to: its page, or a cross-page seal's first page. */
  boxOf(f) { return this.box(f.document, isCross(f) ? f.pages[0] : f.page); }

  labelOf(f) {
    const r = this.recipients[f.recipient];
    return (r ? r.name : "") + " · " + this.kinds[f.kind].label;
  }

  /** Size of a field in points (a cross-page seal: its whole seal, before it is cut). */
  sizePt(f) {
    const b = this.boxOf(f);
    return { w: f.width * b.w, h: f.height * b.h };
  }

  /** Resizes a field to `w` × `h` points, within its page and above the smallest size. */
  setSizePt(f, w, h) {
    const b = this.boxOf(f);
    if (isCross(f)) {
      const size = clamp(h, CROSS_MIN_PT, CROSS_MAX_PT);
      const centre = f.top + f.height / 2;
      f.height = size / b.h;
      f.width = size / b.w;
      f.top = clamp(centre - f.height / 2, 0, 1 - f.height);
      f.left = 1 - f.width / f.pages.length;
      return;
    }
    w = clamp(w, this.minPt, b.w);
    h = clamp(h, this.minPt, b.h);
    if (isRound(f.kind)) { w = h = Math.min(w, h, b.w, b.h); }
    f.width = w / b.w;
    f.height = h / b.h;
    f.left = clamp(f.left, 0, 1 - f.width);
    f.top = clamp(f.top, 0, 1 - f.height);
  }

  /** Where a cross-page seal's strip sits on one of its pages (fractions of that page). */
  stripOn(f, page) {
    return crossStrip(this.box(f.document, f.pages[0]), this.box(f.document, page), f.top, f.height, f.pages.length);
  }

  /** A new field of `kind` centred on (centreX, centreY), fractions of `page`; not yet added.
   * A cross-page seal takes every page of the document, at that height. */
  newField(kind, recipientId, docId, page, centreX, centreY) {
    const spec = this.kinds[kind];
    const doc = this.documents[docId];
    const b = this.box(docId, page);
    const f = { key: this.nextKey++, recipient: recipientId, document: docId, kind: kind, page: page,
      pages: [], label: "", left: 0, top: 0, width: spec.w / b.w, height: spec.h / b.h };
    if (kind === CROSS) {
      f.pages = doc.pages.map((_, i) => i);
      f.page = 0;
      const first = this.box(docId, 0);
      f.height = spec.h / first.h;
      f.width = spec.w / first.w;
      f.top = clamp(centreY * (b.h / first.h) - f.height / 2, 0, 1 - f.height);
      f.left = 1 - f.width / f.pages.length;
    } else {
      f.left = centredStart(centreX, f.width);
      f.top = centredStart(centreY, f.height);
    }
    return f;
  }

  add(kind, recipientId, docId, page, centreX, centreY) {
    const f = this.newField(kind, recipientId, docId, page, centreX, centreY);
    this.fields.push(f);
    return f;
  }

  remove(key) {
    this.fields = this.fields.filter((f) => f.key !== key);
    if (this.selected === key) { this.selected = null; }
  }

  /** Arrow keys: `dx`, `dy` points; a cross-page seal only moves up and down. */
  nudge(f, dx, dy) {
    const b = this.boxOf(f);
    if (!isCross(f)) { f.left = clamp(f.left + dx / b.w, 0, 1 - f.width); }
    f.top = clamp(f.top + dy / b.h, 0, 1 - f.height);
  }

  /** Drag of the corner handle: from the field as it was (`start`, its size `startSize` in
   * points), by `dx`, `dy` points. A round seal stays round; a cross-page seal keeps its top. */
  resizeFrom(f, start, startSize, dx, dy) {
    let w = startSize.w + dx;
    let h = startSize.h + dy;
    if (isRound(f.kind)) { w = h = Math.max(w, h); }
    Object.assign(f, start);
    this.setSizePt(f, w, h);
    if (isCross(f)) { f.top = clamp(start.top, 0, 1 - f.height); }
  }

  /** A cross-page seal dragged up or down by `dy` points from the top it had (`startTop`). */
  slideCross(f, startTop, dy) {
    const first = this.box(f.document, f.pages[0]);
    f.top = clamp(startTop + dy / first.h, 0, 1 - f.height);
  }

  /** A field dropped on `page` with its top-left corner at (left, top), fractions of that
   * page: it keeps its size in points. */
  dropAt(f, page, left, top) {
    const size = this.sizePt(f);
    const b = this.box(f.document, page);
    f.page = page;
    f.width = size.w / b.w;
    f.height = size.h / b.h;
    f.left = clamp(left, 0, 1 - f.width);
    f.top = clamp(top, 0, 1 - f.height);
  }

  /** Another kind for a field: a new field of that kind where it was, keeping key and label. */
  changeKind(f, kind) {
    const page = isCross(f) ? f.pages[0] : f.page;
    const centreX = isCross(f) ? 0.8 : f.left + f.width / 2;
    const rect = isCross(f) ? this.stripOn(f, page) : f;
    const centreY = rect.top + rect.height / 2;
    const replacement = this.newField(kind, f.recipient, f.document, page, centreX, centreY);
    replacement.key = f.key;
    replacement.label = f.label;
    this.fields[this.fields.indexOf(f)] = replacement;
    return replacement;
  }

  /** Moves a field to another page of its document, keeping its size in points. */
  movePage(f, page) {
    const size = this.sizePt(f);
    f.page = page;
    this.setSizePt(f, size.w, size.h);
  }

  /** The pages a cross-page seal crosses; false (nothing changed) for fewer than two. */
  setCrossPages(f, chosen) {
    if (chosen.length < 2) { return false; }
    const size = this.sizePt(f);
    const strip = this.stripOn(f, f.pages[0]);
    f.pages = chosen.slice();
    f.page = chosen[0];
    const b = this.box(f.document, chosen[0]);
    f.height = size.h / b.h;
    f.width = size.h / b.w;
    f.top = clamp(strip.top, 0, 1 - f.height);
    f.left = 1 - f.width / chosen.length;
    return true;
  }

  /** 全部页面: a cross-page seal over every page of its document. */
  crossAllPages(f) {
    const size = this.sizePt(f);
    f.pages = this.documents[f.document].pages.map((_, i) => i);
    f.page = 0;
    this.setSizePt(f, size.w, size.h);
  }

  /** A cross-page seal's height on the page as a percentage (0 top, 100 bottom). */
  crossPosition(f) {
    return Math.round(f.height >= 1 ? 0 : f.top / (1 - f.height) * 100);
  }

  setCrossPosition(f, percent) {
    f.top = clamp(percent / 100 * (1 - f.height), 0, 1 - f.height);
  }

  setLabel(f, text) { f.label = text.slice(0, 60); }

  /** The recipients a field can be given to: those who may have its kind. */
  recipientChoices(f) {
    return this.recipientList.filter((r) => r.kinds.indexOf(f.kind) >= 0);
  }

  /** The kinds a field can take: its recipient's, 骑缝章 only on a document of two pages or more. */
  kindChoices(f) {
    const many = this.pageCount(f.document) > 1;
    return this.recipients[f.recipient].kinds.filter((k) => k !== CROSS || many);
  }

  countFor(recipientId) {
    return this.fields.filter((f) => f.recipient === recipientId).length;
  }

  /** What the save request sends: the fields without their local keys, a cross-page seal's pages
   * in order with its first page as `page`. */
  payload() {
    return {
      fields: this.fields.map((f) => {
        const out = { recipient: f.recipient, document: f.document, kind: f.kind, page: f.page,
          left: f.left, top: f.top, width: f.width, height: f.height, label: f.label || "" };
        if (isCross(f)) { out.pages = f.pages.slice().sort((a, b) => a - b); out.page = out.pages[0]; }
        return out;
      })
    };
  }
}
