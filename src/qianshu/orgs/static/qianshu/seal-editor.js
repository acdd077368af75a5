/* Seal generator (自动生成): live preview of the specification, fields shown per shape.
 *
 * The form works without script (更新预览 re-renders the page with the new preview). With
 * script, every change asks the preview endpoint for a PNG after a short pause; the newest
 * answer wins, and a refused specification shows the server's message instead of an image.
 * The image's data-preview-url always names the parameters it shows.
 *
 * Also: on the photo preview page, the seal name follows the chosen seal type until edited.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 300;

  function setupEditor(form) {
    var img = document.getElementById("seal-preview");
    var errorBox = document.querySelector(".seal-preview-error");
    var endpoint = form.dataset.previewEndpoint;
    var refresh = form.querySelector("[data-seal-refresh]");
    var timer = null;
    var sequence = 0;
    var objectUrl = null;
    var busy = false;  // one render at a time; the newest parameters go next
    var again = false;
    if (!img || !endpoint || !window.fetch) { return; }
    if (refresh) { refresh.hidden = true; }  // the preview follows every change

    function shape() {
      var checked = form.querySelector("[name=shape]:checked") ||
        form.querySelector("select[name=shape], input[type=hidden][name=shape]");
      return checked ? checked.value : "";
    }

    function codeMode() {
      var checked = form.querySelector("[name=code_mode]:checked");
      return checked ? checked.value : "";
    }

    function showFields() {
      var current = shape();
      form.querySelectorAll("[data-shapes]").forEach(function (box) {
        box.hidden = box.dataset.shapes.split(" ").indexOf(current) < 0;
      });
      form.querySelectorAll("[data-code-custom]").forEach(function (box) {
        box.hidden = codeMode() !== "custom";
      });
    }

    function query() {
      var params = new URLSearchParams();
      params.set("kind", form.dataset.kind);
      new FormData(form).forEach(function (value, name) {
        if (name === "csrfmiddlewaretoken" || name === "action" || name === "kind") { return; }
        if (name === "name") { return; }  // not drawn: a half-typed name must not refuse
        if (typeof value === "string" && value !== "") { params.append(name, value); }
      });
      return endpoint + "?" + params.toString();
    }

    function showError(text) {
      if (!errorBox) { return; }
      errorBox.textContent = text;
      errorBox.hidden = !text;
      img.classList.toggle("is-stale", Boolean(text));
    }

    function done() {
      busy = false;
      if (again) { again = false; update(); }
    }

    function update() {
      if (busy) { again = true; return; }
      var url = query();
      if (url === img.dataset.previewUrl && !img.classList.contains("is-stale")) { return; }
      busy = true;
      var mine = ++sequence;
      img.classList.add("is-loading");
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (response.ok) {
            return response.blob().then(function (blob) { return { blob: blob }; });
          }
          return response.json().then(function (body) {
            return { message: body.message || form.dataset.failed };
          }, function () { return { message: form.dataset.failed }; });
        })
        .then(function (result) {
          done();
          if (mine !== sequence) { return; }  // a newer request is on its way
          img.classList.remove("is-loading");
          if (result.blob) {
            if (objectUrl) { URL.revokeObjectURL(objectUrl); }
            objectUrl = URL.createObjectURL(result.blob);
            img.src = objectUrl;
            img.dataset.previewUrl = url;
            showError("");
          } else {
            showError(result.message);
          }
        })
        .catch(function () {
          done();
          if (mine !== sequence) { return; }
          img.classList.remove("is-loading");
          showError(form.dataset.offline);
        });
    }

    function schedule() {
      showFields();
      window.clearTimeout(timer);
      timer = window.setTimeout(update, DEBOUNCE_MS);
    }

    // 其他印章: the text below the star follows the custom name until it is edited apart.
    var name = form.querySelector("[name=name]");
    var text = form.querySelector("[name=seal_text]");
    if (form.dataset.kind === "custom" && name && text) {
      var last = name.value;
      name.addEventListener("input", function () {
        if (text.value === last || text.value === "") { text.value = name.value.slice(0, 16); }
        last = name.value;
      });
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    showFields();
  }

  /* The seal name follows the type until edited. Each option names its seal in Chinese
     (data-seal-name, empty for a custom seal): the option text is in the page's language. */
  function setupNameFollows(select) {
    var name = document.getElementById(select.dataset.nameFollows);
    if (!name) { return; }
    function sealName(option) { return option.dataset.sealName || ""; }
    var previous = sealName(select.options[select.selectedIndex]);
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (name.value.trim() === "" || name.value.trim() === previous) {
        name.value = sealName(option);
        if (!name.value) { name.focus(); }
      }
      previous = sealName(option);
    });
  }

  /* The type chooser's default previews, one after another (each is a render). */
  function loadInTurn(images) {
    var next = images.shift();
    if (!next) { return; }
    function go() { loadInTurn(images); }
    next.addEventListener("load", go, { once: true });
    next.addEventListener("error", go, { once: true });
    next.src = next.dataset.sealSrc;
  }

  loadInTurn(Array.prototype.slice.call(document.querySelectorAll("img[data-seal-src]")));
  document.querySelectorAll("#seal-spec-form").forEach(setupEditor);
  document.querySelectorAll("select[data-name-follows]").forEach(setupNameFollows);
})();
