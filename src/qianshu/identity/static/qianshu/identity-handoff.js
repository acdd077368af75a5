/* 手机扫码认证, computer side: poll the hand-off until the phone has finished real-name
   verification (then go on), or the QR code has expired. Polls only while the card is shown
   (computer sizes) and at most for the QR code's lifetime. */
(function () {
  "use strict";

  function start(root) {
    var url = root.dataset.statusUrl;
    var interval = parseInt(root.dataset.pollInterval, 10) || 2000;
    var expiresIn = parseInt(root.dataset.expiresIn, 10) || 0;
    // After the phone opened the code, verification may take a while: keep polling 30 minutes.
    var left = Math.ceil((expiresIn * 1000) / interval) + 5;
    var timer = null;

    function show(state) {
      var panels = root.querySelectorAll("[data-handoff-panel]");
      for (var i = 0; i < panels.length; i += 1) {
        panels[i].hidden = panels[i].getAttribute("data-handoff-panel") !== state;
      }
      root.dataset.state = state;
    }

    function handle(body) {
      if (body.state === "verified" || body.state === "review") {
        show("done");
        window.location.assign(body.next);
        return;
      }
      if (body.state === "opened" && root.dataset.state !== "opened") {
        left = Math.ceil((30 * 60 * 1000) / interval);
      }
      show(body.state);
      if (body.state === "waiting" || body.state === "opened") { schedule(); }
    }

    function poll() {
      timer = null;
      if (left <= 0) { show("expired"); return; }
      left -= 1;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(handle)
        .catch(function () { schedule(); });
    }

    function schedule() {
      if (timer === null) { timer = window.setTimeout(poll, interval); }
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && timer !== null) {
        window.clearTimeout(timer);
        timer = null;
        poll();
      }
    });

    if (root.offsetParent !== null) { schedule(); }
  }

  function init() {
    var roots = document.querySelectorAll("[data-identity-handoff]");
    for (var i = 0; i < roots.length; i += 1) { start(roots[i]); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
