/* Saving the field editor: 保存 (fetch, JSON), 下一步 saves first when there are changes, and
 * leaving the page with unsaved changes asks first. A refused field is selected and shown. */
export function setupSaving(ed) {
  const root = ed.root;
  const state = ed.state;
  const S = ed.strings;
  const csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");

  ed.showError = function (message) {
    ed.errorEl.textContent = message;
    ed.errorEl.hidden = false;
  };

  function save() {
    if (state.saving) { return Promise.resolve(false); }
    state.saving = true;
    ed.statusEl.textContent = S.saving;
    ed.errorEl.hidden = true;
    const sent = state.fields.slice();
    return fetch(ed.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfInput.value, "X-Requested-With": "fetch" },
      body: JSON.stringify(state.payload())
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false, message: S.failed }; });
    }).then(function (body) {
      state.saving = false;
      if (body.ok) {
        state.dirty = false;
        ed.statusEl.textContent = body.message || S.saved;
        return true;
      }
      ed.statusEl.textContent = S.unsaved;
      ed.showError(body.message || S.failed);
      if (typeof body.index === "number" && sent[body.index]) {
        const f = sent[body.index];
        if (f.document !== state.doc) { ed.showDocument(f.document); }
        ed.selectField(f.key);
        const el = root.querySelector(".ed-field[data-key='" + f.key + "']");
        if (el) { el.scrollIntoView({ behavior: "smooth", block: "center" }); }
      }
      return false;
    }).catch(function () {
      state.saving = false;
      ed.statusEl.textContent = S.unsaved;
      ed.showError(S.failed);
      return false;
    });
  }

  root.querySelector("[data-save]").addEventListener("click", function () { save(); });
  root.querySelector("[data-next]").addEventListener("click", function (event) {
    if (!state.dirty) { return; }
    event.preventDefault();
    const href = event.currentTarget.href;
    save().then(function (ok) { if (ok) { window.location.href = href; } });
  });

  window.addEventListener("beforeunload", function (event) {
    if (!state.dirty) { return undefined; }
    event.preventDefault();
    event.returnValue = S.leave;
    return S.leave;
  });
}
