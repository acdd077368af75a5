/* 发起签署, 企业盖章 rows: choose a verified organisation (search by name or credit code, showing
 * both), or type the name and credit code of one that is not on the platform yet.
 *
 * Choosing fills the row's hidden ``org`` (the organisation's uuid) and shows its name and code,
 * copied into the name and credit-code boxes, read-only; 更换 clears the choice. The server binds
 * the step to the chosen organisation (and checks that it is verified); a typed name and code
 * stay unbound until that organisation verifies. Rows added later (the row template) work the
 * same: everything is delegated to the recipient list.
 */
(function () {
  "use strict";

  var WAIT_MS = 250;

  function start() {
    var list = document.querySelector("[data-recipient-list][data-org-search]");
    if (!list || !window.fetch) { return; }
    var S = list.dataset;
    var template = document.getElementById("recipient-row-template");
    if (template && template.content) {
      template.content.querySelectorAll("[data-org-pick]").forEach(function (el) { el.hidden = false; });
    }

    function input(row, field) { return row.querySelector("[name$='-" + field + "']:not([type=radio])"); }

    function show(row) {
      var org = input(row, "org");
      var chosen = Boolean(org && org.value);
      var pick = row.querySelector("[data-org-pick]");
      if (!pick) { return; }
      pick.hidden = false;
      row.querySelector("[data-org-chosen]").hidden = !chosen;
      row.querySelector("[data-org-find]").hidden = chosen;
      ["name", "org_credit_code"].forEach(function (field) {
        var el = input(row, field);
        if (el) { el.readOnly = chosen; }
      });
      if (chosen) {
        row.querySelector("[data-org-chosen-name]").textContent = input(row, "name").value;
        row.querySelector("[data-org-chosen-code]").textContent = input(row, "org_credit_code").value;
      }
    }

    function choose(row, org) {
      input(row, "org").value = org.uuid;
      input(row, "name").value = org.name;
      input(row, "org_credit_code").value = org.credit_code;
      clearResults(row);
      show(row);
      var next = input(row, "contact_name");
      if (next) { next.focus(); }
    }

    function clearResults(row) {
      var results = row.querySelector("[data-org-results]");
      results.textContent = "";
      results.hidden = true;
      row._orgResults = [];
    }

    function say(row, text) { row.querySelector("[data-org-message]").textContent = text || ""; }

    function render(row, results) {
      var box = row.querySelector("[data-org-results]");
      box.textContent = "";
      row._orgResults = results;
      results.forEach(function (org, index) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "org-result";
        button.dataset.orgResult = String(index);
        button.setAttribute("data-testid", "org-result");
        var name = document.createElement("span");
        name.className = "org-result-name";
        name.textContent = org.name;
        var kind = document.createElement("span");
        kind.className = "org-result-kind";
        kind.textContent = S.orgVerified + " · " + org.kind;
        var code = document.createElement("span");
        code.className = "org-result-code";
        code.textContent = org.identifier;
        button.append(name, kind, code);
        item.appendChild(button);
        box.appendChild(item);
      });
      box.hidden = results.length === 0;
    }

    function search(row, text) {
      if (row._orgAbort) { row._orgAbort.abort(); }
      if (text.length < 2) {
        clearResults(row);
        say(row, text ? S.orgShort : "");
        return;
      }
      var controller = window.AbortController ? new AbortController() : null;
      row._orgAbort = controller;
      say(row, S.orgSearching);
      fetch(S.orgSearch + "?q=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "Accept": "application/json" },
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        return response.json();
      }).then(function (body) {
        render(row, body.results || []);
        say(row, body.message || "");
      }).catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        clearResults(row);
        say(row, S.orgFailed);
      });
    }

    list.addEventListener("input", function (event) {
      var box = event.target.closest("[data-org-query]");
      if (!box) { return; }
      var row = box.closest("[data-recipient-row]");
      window.clearTimeout(row._orgTimer);
      row._orgTimer = window.setTimeout(function () { search(row, box.value.trim()); }, WAIT_MS);
    });

    list.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || !event.target.closest("[data-org-query]")) { return; }
      event.preventDefault();  // Enter searches here; it must not save the draft
      var row = event.target.closest("[data-recipient-row]");
      window.clearTimeout(row._orgTimer);
      search(row, event.target.value.trim());
    });

    list.addEventListener("click", function (event) {
      var row = event.target.closest("[data-recipient-row]");
      if (!row) { return; }
      var result = event.target.closest("[data-org-result]");
      if (result) {
        choose(row, row._orgResults[Number(result.dataset.orgResult)]);
        return;
      }
      if (event.target.closest("[data-org-clear]")) {
        input(row, "org").value = "";
        input(row, "name").value = "";
        input(row, "org_credit_code").value = "";
        show(row);
        var query = row.querySelector("[data-org-query]");
        query.value = "";
        query.focus();
      }
    });

    list.querySelectorAll("[data-recipient-row]").forEach(show);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1 && node.matches("[data-recipient-row]")) { show(node); }
        });
      });
    }).observe(list, { childList: true });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
