/* 手机扫码签名, computer side: wait until the phone has saved a signature (then show it), or the
   QR code has expired. */
import { startPolling } from "./handoff-poll.mjs";

function handler(root) {
  return (body, poller) => {
    if (body.state === "waiting") { poller.again(); return; }
    if (body.signature) {
      const image = root.querySelector("[data-handoff-image]");
      if (image) { image.src = body.signature.image_url; }
    }
    poller.show(body.state);
  };
}

for (const root of document.querySelectorAll("[data-signature-handoff]")) {
  startPolling(root, handler(root), () => root.dataset.state === "waiting");
}
