/* The computer side of a QR hand-off (手机扫码签名, 手机扫码认证): poll the hand-off's status
   address until the phone has finished or the QR code has expired. The number of polls is
   bounded by the code's lifetime; a tab coming back to the foreground polls at once.

   startPolling(root, handle, active): ``root`` carries data-status-url, data-poll-interval (ms)
   and data-expires-in (s); ``handle(body, poller)`` decides what a status means and calls
   poller.show(state) (the panel with data-handoff-panel=state), poller.again() (keep polling)
   or poller.keepFor(ms) (poll that much longer); polling starts when ``active()`` is true. */

export function showPanel(root, state) {
  for (const panel of root.querySelectorAll("[data-handoff-panel]")) {
    panel.hidden = panel.getAttribute("data-handoff-panel") !== state;
  }
  root.dataset.state = state;
}

export function startPolling(root, handle, active) {
  const url = root.dataset.statusUrl;
  const interval = parseInt(root.dataset.pollInterval, 10) || 2000;
  const expiresIn = parseInt(root.dataset.expiresIn, 10) || 0;
  // One poll per interval until the expiry, plus a few for clock skew and slow networks.
  let left = Math.ceil((expiresIn * 1000) / interval) + 5;
  let timer = null;

  const poller = {
    show(state) { showPanel(root, state); },
    again() { schedule(); },
    keepFor(ms) { left = Math.ceil(ms / interval); },
  };

  function poll() {
    timer = null;
    if (left <= 0) { poller.show("expired"); return; }
    left -= 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then((body) => handle(body, poller))
      .catch(() => schedule());
  }

  function schedule() {
    if (timer === null) { timer = window.setTimeout(poll, interval); }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer !== null) {
      window.clearTimeout(timer);
      timer = null;
      poll();
    }
  });

  if (active()) { schedule(); }
}
