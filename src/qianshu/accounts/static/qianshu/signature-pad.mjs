/* Handwritten signature pad (手写签名): draw with a mouse, pen or finger, export a PNG.

   Markup (see templates/accounts/signatures/_pad.html):

     <div data-signature-pad data-submit-url="/me/signatures/draw/" data-done="#done">
       <input type="hidden" name="csrfmiddlewaretoken" value="…">
       <canvas></canvas>
       <div data-pad-error hidden></div>
       <button type="button" data-pad-clear>清屏</button>
       <button type="button" data-pad-undo>撤销</button>
       <button type="button" data-pad-save>使用签名</button>
     </div>

   Every [data-signature-pad] is set up on load (add data-manual to skip it and call
   QianshuSignaturePad.attach(element, options) yourself). On 使用签名 the pad exports a
   transparent PNG and dispatches a cancelable, bubbling "signaturepad:save" event with
   detail {blob, pad}. Unless a listener calls preventDefault() (e.g. a one-time signature that is
   used but not stored) or options.onSave is given, the PNG is POSTed to data-submit-url as the
   multipart field "image" with the CSRF token and "X-Requested-With: fetch". The server answers
   JSON {ok, message, redirect}; on success the pad follows "redirect", or else shows the
   element named by data-done, and dispatches "signaturepad:saved" with the JSON as detail.

   Pad API: pad.clear(), pad.undo(), pad.isEmpty(), pad.toBlob(callback), pad.toDataURL(),
   pad.resize() (call it after showing a pad that was hidden, e.g. in a dialog),
   pad.showError(text), pad.destroy().

   An ES module (<script type="module">): it shares clamp() with the field editor and the
   signing page (core's geometry.mjs); `attach` is exported and also window.QianshuSignaturePad.
*/
import { clamp } from "./geometry.mjs";

var MAX_BACKING_PX = 2400;   // long side of the exported canvas: far below the server's caps
var MIN_MOVE = 1.5;          // CSS px between recorded points
var INK = "#000";

function SignaturePad(root, options) {
  this.root = root;
  this.options = options || {};
  this.canvas = root.querySelector("canvas");
  this.ctx = this.canvas.getContext("2d");
  this.errorBox = root.querySelector("[data-pad-error]");
  this.clearButton = root.querySelector("[data-pad-clear]");
  this.undoButton = root.querySelector("[data-pad-undo]");
  this.saveButton = root.querySelector("[data-pad-save]");
  // Strokes in coordinates relative to the canvas width, so a resize or rotation keeps them.
  this.strokes = [];
  this.current = null;
  this.pointerId = null;
  this.busy = false;
  this.cssWidth = 0;
  this.cssHeight = 0;
  this.listeners = [];
  this.bind();
  this.resize();
  this.update();
}

SignaturePad.prototype.on = function (target, type, handler, opts) {
  var bound = handler.bind(this);
  target.addEventListener(type, bound, opts || false);
  this.listeners.push([target, type, bound, opts || false]);
};

SignaturePad.prototype.bind = function () {
  var canvas = this.canvas;
  canvas.style.touchAction = "none";
  this.on(canvas, "pointerdown", this.onDown);
  this.on(canvas, "pointermove", this.onMove);
  this.on(canvas, "pointerup", this.onUp);
  this.on(canvas, "pointercancel", this.onUp);
  this.on(canvas, "lostpointercapture", this.onUp);
  // Old iOS versions scroll despite touch-action; a non-passive touchmove stops that.
  this.on(canvas, "touchmove", function (event) { event.preventDefault(); }, { passive: false });
  this.on(window, "resize", this.resize);
  if (this.clearButton) { this.on(this.clearButton, "click", this.clear); }
  if (this.undoButton) { this.on(this.undoButton, "click", this.undo); }
  if (this.saveButton) { this.on(this.saveButton, "click", this.save); }
};

SignaturePad.prototype.destroy = function () {
  this.listeners.forEach(function (entry) {
    entry[0].removeEventListener(entry[1], entry[2], entry[3]);
  });
  this.listeners = [];
};

// --- geometry -----------------------------------------------------------------------------

SignaturePad.prototype.resize = function () {
  var rect = this.canvas.getBoundingClientRect();
  var width = Math.round(rect.width), height = Math.round(rect.height);
  if (!width || !height || (width === this.cssWidth && height === this.cssHeight)) { return; }
  this.cssWidth = width;
  this.cssHeight = height;
  var ratio = Math.min(window.devicePixelRatio || 1, MAX_BACKING_PX / Math.max(width, height));
  this.ratio = Math.max(ratio, 0.5);
  this.canvas.width = Math.round(width * this.ratio);
  this.canvas.height = Math.round(height * this.ratio);
  this.redraw();
};

SignaturePad.prototype.baseWidth = function () {
  // Pen width follows the pad size, so a signature looks alike on a phone and a desktop.
  return clamp(this.cssWidth * 0.009, 2.2, 5.5) / this.cssWidth;
};

SignaturePad.prototype.point = function (event) {
  var rect = this.canvas.getBoundingClientRect();
  var w = this.cssWidth || rect.width || 1;
  return { x: (event.clientX - rect.left) / w, y: (event.clientY - rect.top) / w,
           t: event.timeStamp || Date.now(),
           p: event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 0.5 };
};

// --- input --------------------------------------------------------------------------------

SignaturePad.prototype.onDown = function (event) {
  if (this.pointerId !== null || this.busy) { return; }
  if (event.pointerType === "mouse" && event.button !== 0) { return; }
  event.preventDefault();
  this.resize();
  this.pointerId = event.pointerId;
  if (this.canvas.setPointerCapture) {
    try { this.canvas.setPointerCapture(event.pointerId); } catch (e) { /* synthetic events */ }
  }
  var first = this.point(event);
  first.w = this.baseWidth() * (0.7 + 0.6 * first.p);
  this.current = { points: [first], done: false };
  this.strokes.push(this.current);
  this.hideError();
  this.update();
};

SignaturePad.prototype.onMove = function (event) {
  if (event.pointerId !== this.pointerId || !this.current) { return; }
  event.preventDefault();
  var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  if (!events.length) { events = [event]; }
  for (var i = 0; i < events.length; i += 1) { this.addPoint(this.point(events[i])); }
};

SignaturePad.prototype.addPoint = function (pt) {
  var points = this.current.points;
  var last = points[points.length - 1];
  var dx = (pt.x - last.x) * this.cssWidth, dy = (pt.y - last.y) * this.cssWidth;
  var distance = Math.sqrt(dx * dx + dy * dy);
  if (distance < MIN_MOVE) { return; }
  // Faster strokes come out a little thinner, as with a real pen; smoothed to avoid jumps.
  var speed = distance / Math.max(pt.t - last.t, 1);           // CSS px per ms
  var target = this.baseWidth() * clamp(1.35 - 0.28 * speed, 0.6, 1.35) * (0.7 + 0.6 * pt.p);
  pt.w = last.w * 0.65 + target * 0.35;
  points.push(pt);
  this.drawPiece(this.current, points.length - 1);
};

SignaturePad.prototype.onUp = function (event) {
  if (event.pointerId !== this.pointerId) { return; }
  this.pointerId = null;
  if (!this.current) { return; }
  this.current.done = true;
  this.drawTail(this.current);
  this.current = null;
  this.update();
};

// --- drawing: quadratic curves through the midpoints of the recorded points ----------------

SignaturePad.prototype.begin = function () {
  var ctx = this.ctx;
  ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  return ctx;
};

SignaturePad.prototype.drawPiece = function (stroke, k) {
  var s = this.cssWidth, pts = stroke.points, ctx = this.begin();
  var a = pts[k - 1], b = pts[k];
  ctx.beginPath();
  ctx.lineWidth = ((a.w + b.w) / 2) * s;
  if (k === 1) {
    ctx.moveTo(a.x * s, a.y * s);
    ctx.lineTo(((a.x + b.x) / 2) * s, ((a.y + b.y) / 2) * s);
  } else {
    var z = pts[k - 2];
    ctx.moveTo(((z.x + a.x) / 2) * s, ((z.y + a.y) / 2) * s);
    ctx.quadraticCurveTo(a.x * s, a.y * s, ((a.x + b.x) / 2) * s, ((a.y + b.y) / 2) * s);
  }
  ctx.stroke();
};

SignaturePad.prototype.drawTail = function (stroke) {
  var s = this.cssWidth, pts = stroke.points, ctx = this.begin();
  var last = pts[pts.length - 1];
  if (pts.length === 1) {  // a tap: a dot
    ctx.beginPath();
    ctx.arc(last.x * s, last.y * s, (last.w * s) / 2 + 0.5, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  var prev = pts[pts.length - 2];
  ctx.beginPath();
  ctx.lineWidth = last.w * s;
  ctx.moveTo(((prev.x + last.x) / 2) * s, ((prev.y + last.y) / 2) * s);
  ctx.lineTo(last.x * s, last.y * s);
  ctx.stroke();
};

SignaturePad.prototype.redraw = function () {
  var ctx = this.ctx;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  for (var i = 0; i < this.strokes.length; i += 1) {
    var stroke = this.strokes[i];
    for (var k = 1; k < stroke.points.length; k += 1) { this.drawPiece(stroke, k); }
    if (stroke.done) { this.drawTail(stroke); }
  }
};

// --- commands -----------------------------------------------------------------------------

SignaturePad.prototype.isEmpty = function () { return this.strokes.length === 0; };

SignaturePad.prototype.clear = function () {
  if (this.busy) { return; }
  this.strokes = [];
  this.current = null;
  this.pointerId = null;
  this.redraw();
  this.hideError();
  this.update();
};

SignaturePad.prototype.undo = function () {
  if (this.busy || this.current) { return; }
  this.strokes.pop();
  this.redraw();
  this.update();
};

SignaturePad.prototype.update = function () {
  var empty = this.isEmpty();
  this.root.classList.toggle("has-ink", !empty);
  if (this.undoButton) { this.undoButton.disabled = empty || this.busy; }
  if (this.clearButton) { this.clearButton.disabled = this.busy; }
  if (this.saveButton) { this.saveButton.disabled = empty || this.busy; }
};

SignaturePad.prototype.toDataURL = function () { return this.canvas.toDataURL("image/png"); };

SignaturePad.prototype.toBlob = function (callback) {
  if (this.canvas.toBlob) { this.canvas.toBlob(callback, "image/png"); return; }
  var url = this.toDataURL(), bytes = atob(url.split(",")[1]), data = new Uint8Array(bytes.length);
  for (var i = 0; i < bytes.length; i += 1) { data[i] = bytes.charCodeAt(i); }
  callback(new Blob([data], { type: "image/png" }));
};

SignaturePad.prototype.showError = function (text) {
  if (!this.errorBox) { window.alert(text); return; }
  this.errorBox.textContent = text;
  this.errorBox.hidden = false;
};

SignaturePad.prototype.hideError = function () {
  if (this.errorBox) { this.errorBox.hidden = true; }
};

SignaturePad.prototype.setBusy = function (busy) {
  this.busy = busy;
  if (this.saveButton) {
    var label = this.saveButton.dataset.label || this.saveButton.textContent;
    this.saveButton.dataset.label = label;
    this.saveButton.textContent = busy ? (this.root.dataset.savingText || label) : label;
  }
  this.update();
};

SignaturePad.prototype.save = function () {
  if (this.isEmpty() || this.busy || this.current) { return; }
  var self = this;
  this.toBlob(function (blob) {
    if (!blob) { self.showError(self.root.dataset.failedText || "Export failed"); return; }
    var event = new CustomEvent("signaturepad:save", {
      bubbles: true, cancelable: true, detail: { blob: blob, pad: self }
    });
    var proceed = self.root.dispatchEvent(event);
    if (self.options.onSave) { self.options.onSave(blob, self); return; }
    var url = self.options.submitUrl || self.root.dataset.submitUrl;
    if (proceed && url) { self.submit(url, blob); }
  });
};

SignaturePad.prototype.submit = function (url, blob) {
  var self = this, failed = this.root.dataset.failedText || "Network error";
  var data = new FormData();
  var csrf = this.root.querySelector("input[name=csrfmiddlewaretoken]");
  if (csrf) { data.append("csrfmiddlewaretoken", csrf.value); }
  data.append("image", blob, "signature.png");
  this.setBusy(true);
  this.hideError();
  fetch(url, {
    method: "POST", body: data, credentials: "same-origin",
    headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
  }).then(function (response) {
    return response.json().catch(function () { return { ok: false, message: failed }; });
  }).then(function (body) {
    if (!body.ok) {
      self.setBusy(false);
      self.showError(body.message || failed);
      return;
    }
    self.root.dispatchEvent(new CustomEvent("signaturepad:saved", { bubbles: true, detail: body }));
    if (body.redirect) { window.location.assign(body.redirect); return; }
    var done = self.root.dataset.done && document.querySelector(self.root.dataset.done);
    if (done) { self.root.hidden = true; done.hidden = false; } else { self.setBusy(false); }
  }).catch(function () {
    self.setBusy(false);
    self.showError(failed);
  });
};

function attach(root, options) {
  if (root.signaturePad) { return root.signaturePad; }
  root.signaturePad = new SignaturePad(root, options);
  return root.signaturePad;
}

window.QianshuSignaturePad = { attach: attach };
export { attach };

function init() {
  var roots = document.querySelectorAll("[data-signature-pad]:not([data-manual])");
  for (var i = 0; i < roots.length; i += 1) { attach(roots[i]); }
}

if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
else { init(); }
