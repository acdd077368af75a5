/* Page geometry shared by the field editor (发起签署, step 2), the signing page (文件签署) and the
 * signature pad (accounts: clamp).
 *
 * A field is kept as fractions of its page, origin top-left ({ left, top, width, height }), as
 * the server stores and expects it. A page box is { w, h, y1 } in PDF points: its width, its
 * height and the y of its bottom edge (qianshu.signing.documents.page_boxes). Nothing here
 * touches the page except place(), which only writes an element's style.
 */

export const PT_PER_MM = 72 / 25.4;

/** value kept within [low, high]; when the range is empty (low > high) the low bound wins. */
export function clamp(value, low, high) {
  return Math.max(low, Math.min(high, value));
}

export function mmFromPt(pt) { return pt / PT_PER_MM; }

export function ptFromMm(mm) { return mm * PT_PER_MM; }

/** A box from the signing page's [width, height] pair (its pages carry no y offset). */
export function boxFromPair(pair) { return { w: pair[0], h: pair[1], y1: 0 }; }

/** The start of a span of `size` centred on `centre`, kept within the page (0…1). */
export function centredStart(centre, size) {
  return clamp(centre - size / 2, 0, 1 - size);
}

/** A CSS percentage of a fraction. */
export function pct(value) { return (value * 100).toFixed(4) + "%"; }

/** Positions an absolutely placed element at a rectangle in fractions of its page. */
export function place(el, rect) {
  el.style.left = pct(rect.left);
  el.style.top = pct(rect.top);
  el.style.width = pct(rect.width);
  el.style.height = pct(rect.height);
}

/**
 * Where one strip of a cross-page seal (骑缝章) sits on a page, in fractions of that page.
 *
 * The seal is `top` and `height` in fractions of its first page (box `first`); it is cut into
 * `count` equal strips, each flush with the right edge of its page, its centre at the same PDF
 * height as on the first page but kept within the page — what the server draws
 * (qianshu.signing.stamps.cross_page_slices).
 */
export function crossStrip(first, box, top, height, count) {
  const size = height * first.h;
  const half = size / 2;
  let centre = first.y1 + first.h - (top * first.h + half);  // PDF y of the seal's centre
  centre = clamp(centre, box.y1 + half, box.y1 + box.h - half);
  const strip = size / count;
  return {
    left: 1 - strip / box.w,
    top: (box.y1 + box.h - centre - half) / box.h,
    width: strip / box.w,
    height: size / box.h
  };
}
