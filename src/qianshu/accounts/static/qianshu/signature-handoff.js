/* 手机扫码签名, desktop side: poll the hand-off status until the phone has saved a signature,
   the QR code has expired, or the time is up (the poll count is bounded by the lifetime). */
(function () {
  "use strict";

  function start(root) {
    var url = root.dataset.statusUrl;
    var interval = parseInt(root.dataset.pollInterval, 10) || 2000;
    var expiresIn = parseInt(root.dataset.expiresIn, 10) || 0;
    // One poll per interval until the expiry, plus a few for clock skew and slow networks.
    var left = Math.ceil((expiresIn * 1000) / interval) + 5;
    var timer = null;

    function show(state) {
      var panels = root.querySelectorAll("[data-handoff-panel]");
      for (var i = 0; i < panels.length; i += 1) {
        panels[i].hidden = panels[i].getAttribute("data-handoff-panel") !== state;
      }
      root.dataset.state = state;
    }

    function finish(body) {
      if (body.signature) {
        var image = root.querySelector("[data-handoff-image]");
        if (image) { image.src = body.signature.image_url; }
      }
      show(body.state);
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
        .then(function (body) {
          if (body.state === "waiting") { schedule(); } else { finish(body); }
        })
        .catch(function () { schedule(); });
    }

    function schedule() {
      if (timer === null) { timer = window.setTimeout(poll, interval); }
    }

    // A tab in the background polls again as soon as it is visible.
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && root.dataset.state === "waiting" && timer !== null) {
        window.clearTimeout(timer);
        timer = null;
        poll();
      }
    });

    if (root.dataset.state === "waiting") { schedule(); }
  }

  function init() {
    var roots = document.querySelectorAll("[data-signature-handoff]");
    for (var i = 0; i < roots.length; i += 1) { start(roots[i]); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
