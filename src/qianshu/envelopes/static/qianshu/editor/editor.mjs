/* 发起签署, step 2: the field editor (拖拽放置签署位置).
 *
 * The editor keeps every field as fractions of its page (origin top-left), as the server expects
 * them (state.mjs); sizes shown to the user are in millimetres. The parts share one context
 * object, `ed`: the root element, the state, the strings, and the functions each part adds
 * (render, markDirty, selectField, showDocument, chooseRecipient, disarm, pageAt, …).
 */
import { FieldState } from "./state.mjs";
import { setupFieldGestures, setupFieldView } from "./field-view.mjs";
import { setupInspector } from "./inspector.mjs";
import { setupPages } from "./pages.mjs";
import { setupPalette } from "./palette.mjs";
import { setupSaving } from "./saving.mjs";

export function setupEditor(root) {
  const dataNode = document.getElementById("field-editor-data");
  if (!dataNode || !window.fetch) { return; }
  const config = JSON.parse(dataNode.textContent);
  if (!config.documents.length) { return; }
  const ed = {
    root: root,
    state: new FieldState(config),
    strings: config.strings,
    saveUrl: config.saveUrl,
    statusEl: root.querySelector("[data-save-status]"),
    errorEl: root.querySelector("[data-save-error]")
  };
  setupFieldView(ed);
  root.classList.add("is-ready");
  setupPages(ed);
  setupPalette(ed);
  setupFieldGestures(ed);
  setupInspector(ed);
  setupSaving(ed);

  ed.chooseRecipient(ed.state.recipient);
  ed.showDocument(ed.state.doc);
  ed.statusEl.textContent = "";
}
