// Unit tests of the page geometry shared by the field editor and the signing page.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  PT_PER_MM, boxFromPair, centredStart, clamp, crossStrip, mmFromPt, pct, place, ptFromMm
} from "../../src/qianshu/core/static/qianshu/geometry.mjs";

const A4 = { w: 595.28, h: 841.89, y1: 0 };
const close = (actual, expected, message) => assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ""} ${actual} ≠ ${expected}`);

test("clamp keeps a value within its range", () => {
  assert.equal(clamp(5, 0, 10), 5);
  assert.equal(clamp(-1, 0, 10), 0);
  assert.equal(clamp(11, 0, 10), 10);
});

test("clamp: in an empty range the low bound wins (a field larger than its page starts at 0)", () => {
  assert.equal(clamp(0.3, 0, 1 - 1.2), 0);
});

test("millimetres and points", () => {
  close(PT_PER_MM, 72 / 25.4);
  assert.ok(Math.abs(mmFromPt(595.28) - 210) < 0.01, "A4 width");
  assert.equal(Math.round(mmFromPt(841.89)), 297);
  close(ptFromMm(25.4), 72);
  close(mmFromPt(ptFromMm(42)), 42);
});

test("centredStart centres a span and keeps it on the page", () => {
  close(centredStart(0.5, 0.2), 0.4);
  assert.equal(centredStart(0.05, 0.2), 0);
  close(centredStart(0.99, 0.2), 0.8);
});

test("place writes percentages of the page", () => {
  const el = { style: {} };
  place(el, { left: 0.125, top: 1 / 3, width: 0.5, height: 1 });
  assert.deepEqual(el.style, { left: "12.5000%", top: "33.3333%", width: "50.0000%", height: "100.0000%" });
  assert.equal(pct(0), "0.0000%");
});

test("boxFromPair reads the signing page's [width, height]", () => {
  assert.deepEqual(boxFromPair([595.28, 841.89]), A4);
});

test("crossStrip on pages of one size: the seal's top, a strip flush with the right edge", () => {
  const height = 119 / A4.h;
  const strip = crossStrip(A4, A4, 0.25, height, 4);
  close(strip.top, 0.25);
  close(strip.height, height);
  close(strip.width, 119 / 4 / A4.w);
  close(strip.left + strip.width, 1, "right edge");
});

test("crossStrip on a page of another height: the centre at the same PDF height, as the server draws it", () => {
  // qianshu.signing.stamps.cross_page_slices: cy = centre on the first page, clamped within the page.
  const first = A4;
  const small = { w: 420.94, h: 595.28, y1: 0 };  // A5
  const size = 100;
  const top = 0.1;  // fraction of the first page
  const cy = first.y1 + first.h - (top * first.h + size / 2);  // 707.70 pt: above the A5 page
  const expectedCy = Math.min(Math.max(cy, small.y1 + size / 2), small.y1 + small.h - size / 2);
  const strip = crossStrip(first, small, top, size / first.h, 2);
  close(strip.top, (small.y1 + small.h - expectedCy - size / 2) / small.h);
  close(strip.top, 0, "clamped to the top of the smaller page");
  close(strip.height, size / small.h);
  close(strip.width, size / 2 / small.w);

  // lower on the page: the same distance from the bottom edge on both pages
  const low = crossStrip(first, small, 0.8, size / first.h, 2);
  const bottomGapFirst = first.h - (0.8 * first.h + size);
  close(small.h - (low.top * small.h + size), bottomGapFirst);
});

test("crossStrip follows a page box that does not start at y = 0", () => {
  const shifted = { w: 595.28, h: 841.89, y1: 100 };
  const strip = crossStrip(A4, shifted, 0.5, 119 / A4.h, 2);
  const cy = A4.h - (0.5 * A4.h + 119 / 2);
  close(strip.top, (shifted.y1 + shifted.h - cy - 119 / 2) / shifted.h);
  assert.notEqual(strip.top.toFixed(6), (0.5).toFixed(6));
});
