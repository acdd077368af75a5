/* 发起签署 (templates/envelopes/compose/): step 1's recipient rows, files and deadline, step 2's
 * field editor, step 3's send button. A module: it runs once the page is parsed. */
import { setupCompose, setupOnce } from "./compose-form.mjs";
import { setupEditor } from "./editor/editor.mjs";

const form = document.querySelector("[data-compose-form]");
if (form) { setupCompose(form); }
const editor = document.getElementById("field-editor");
if (editor) { setupEditor(editor); }
document.querySelectorAll("button[data-once]").forEach(setupOnce);
