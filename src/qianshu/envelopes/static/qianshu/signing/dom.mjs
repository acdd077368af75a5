/* Small page helpers of the signing page: queries, dialogs, the toast, the CSRF token and the
   idempotency key. */

export function $(selector, scope) { return (scope || document).querySelector(selector); }

export function $all(selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); }

export function openDialog(dialog) {
  if (!dialog) { return; }
  const toastNode = document.getElementById("sg-toast");
  if (toastNode) { toastNode.hidden = true; }
  if (typeof dialog.showModal === "function") {
    if (!dialog.open) { dialog.showModal(); }
  } else {
    dialog.setAttribute("open", "");
    dialog.classList.add("is-fallback");
  }
}

export function closeDialog(dialog) {
  if (!dialog) { return; }
  if (typeof dialog.close === "function") { if (dialog.open) { dialog.close(); } }
  else { dialog.removeAttribute("open"); }
}

export function csrfToken() {
  const input = $("input[name=csrfmiddlewaretoken]");
  if (input) { return input.value; }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** A random key, made once per page load, that lets the server answer a repeated POST once. */
export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID().replace(/-/g, "");
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
}

/** The toast at the foot of the page: toast(text, ms) shows `text` for `ms` (2.6 s). */
export function makeToast() {
  const toastBox = document.getElementById("sg-toast");
  let toastTimer = 0;
  return function toast(text, ms) {
    if (!toastBox) { return; }
    toastBox.textContent = text;
    toastBox.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { toastBox.hidden = true; }, ms || 2600);
  };
}

/** JSON POST with the CSRF token; a page that is not JSON (a login page, a 403) is a message. */
export async function postJson(url, body, T) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "Accept": "application/json",
      "X-CSRFToken": csrfToken(),
      "X-Requested-With": "fetch"
    },
    body: JSON.stringify(body)
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!data) { return { ok: false, message: response.redirected || response.status === 403 ? T.relogin : T.network }; }
  return data;
}
