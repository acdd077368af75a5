// Unit tests of the one message formatter of the envelope pages.
import assert from "node:assert/strict";
import { test } from "node:test";

import { format } from "../../src/qianshu/core/static/qianshu/format.mjs";

test("fills Django's %(name)s placeholders (the field editor's strings)", () => {
  assert.equal(format("第 %(n)s / %(total)s 页", { n: 2, total: 5 }), "第 2 / 5 页");
  assert.equal(format("%(name)s（%(role)s）", { name: "李博文", role: "签署" }), "李博文（签署）");
});

test("fills {name} placeholders (the signing page's strings)", () => {
  assert.equal(format("还有 {n} 处未签署", { n: 3 }), "还有 3 处未签署");
  assert.equal(format("请填写“{label}”。", { label: "金额" }), "请填写“金额”。");
});

test("a placeholder without a value stays as it is", () => {
  assert.equal(format("{s} 秒后重新获取", {}), "{s} 秒后重新获取");
  assert.equal(format("%(n)s 个位置", { m: 1 }), "%(n)s 个位置");
  assert.equal(format("{toString}", {}), "{toString}");
});

test("zero and text that is not a string", () => {
  assert.equal(format("{n}", { n: 0 }), "0");
  assert.equal(format(42, {}), "42");
});
