/* 手机扫码认证, computer side: wait until the phone has finished real-name verification (then go
   on to the page that asked for it), or the QR code has expired. Polls only while the card is
   shown (computer sizes). */
import { startPolling } from "./handoff-poll.mjs";

function handler(root) {
  return (body, poller) => {
    if (body.state === "verified" || body.state === "review") {
      poller.show("done");
      window.location.assign(body.next);
      return;
    }
    if (body.state === "opened" && root.dataset.state !== "opened") {
      // After the phone opened the code, verification may take a while: 30 more minutes.
      poller.keepFor(30 * 60 * 1000);
    }
    poller.show(body.state);
    if (body.state === "waiting" || body.state === "opened") { poller.again(); }
  };
}

for (const root of document.querySelectorAll("[data-identity-handoff]")) {
  startPolling(root, handler(root), () => root.offsetParent !== null);
}
