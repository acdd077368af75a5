/* Qianshu web shell behaviour: SMS-code buttons with a countdown, confirmation prompts. */
(function () {
  "use strict";

  function countdown(button, seconds) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    var template = button.dataset.wait || "%s s";
    button.disabled = true;
    var left = seconds;
    function tick() {
      if (left <= 0) { button.disabled = false; button.textContent = label; return; }
      button.textContent = template.replace("%s", left);
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function showMessage(form, text, ok) {
    var box = form.querySelector(".send-result");
    if (!box) { return; }
    box.textContent = text;
    box.className = "send-result msg " + (ok ? "msg-success" : "msg-error");
    box.hidden = false;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-send-code]");
    if (!button) { return; }
    var form = button.form;
    if (!form || !window.fetch) { return; }  // without fetch the button submits the form
    event.preventDefault();
    var data = new FormData(form);
    data.set("action", "send");
    button.disabled = true;
    fetch(form.getAttribute("action") || window.location.href, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      return response.json().then(function (body) { return body; });
    }).then(function (body) {
      showMessage(form, body.message, body.ok);
      if (body.retry_after) { countdown(button, body.ok ? 60 : body.retry_after); }
      else { button.disabled = false; }
      if (body.ok) {
        var code = form.querySelector("input[name=code]");
        if (code) { code.focus(); }
      }
    }).catch(function () {
      button.disabled = false;
      showMessage(form, button.dataset.failed || "网络错误，请重试。", false);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var text = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (text && !window.confirm(text)) { event.preventDefault(); }
  });
})();
