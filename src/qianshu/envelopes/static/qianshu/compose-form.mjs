/* 发起签署, steps 1 and 3: the recipient rows, the files and the deadline of step 1, and the
 * send-once button of step 3.
 *
 * Step 1 works without script (a fixed number of rows, a 上传 button); with script rows are added,
 * removed and reordered here (their formset names renumbered), a chosen file uploads at once, and
 * the deadline has presets.
 */

export function setupCompose(form) {
  var list = form.querySelector("[data-recipient-list]");
  var template = document.getElementById("recipient-row-template");
  var total = form.querySelector("input[name=r-TOTAL_FORMS]");
  var addBar = form.querySelector("[data-recipient-add]");
  var editUrl = form.dataset.editUrl;

  // A first save renders its errors at /envelopes/new/; a reload must not create a second draft.
  if (editUrl && window.location.pathname !== editUrl && window.history.replaceState) {
    window.history.replaceState(null, "", editUrl + window.location.hash);
  }

  function rows() { return Array.prototype.slice.call(list.querySelectorAll("[data-recipient-row]")); }

  function input(row, field) { return row.querySelector("[name$='-" + field + "']:not([type=radio])"); }

  function isBlank(row) {
    return ["name", "phone", "email", "contact_name", "org_credit_code"].every(function (field) {
      var el = input(row, field);
      return !el || !el.value.trim();
    });
  }

  function renumber() {
    var all = rows();
    all.forEach(function (row, index) {
      row.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) {
            el.setAttribute(attr, value.replace(/^(id_)?r-(\d+|__prefix__)-/, "$1r-" + index + "-"));
          }
        });
      });
      var up = row.querySelector("[data-move=up]");
      var down = row.querySelector("[data-move=down]");
      if (up) { up.disabled = index === 0; }
      if (down) { down.disabled = index === all.length - 1; }
    });
    total.value = String(all.length);
  }

  function maxOrder() {
    return rows().reduce(function (high, row) {
      var value = parseInt(input(row, "routing_order").value, 10);
      return isNaN(value) ? high : Math.max(high, value);
    }, 0);
  }

  function setRole(row, role) {
    row.dataset.role = role;
    var radio = row.querySelector("input[type=radio][value='" + role + "']");
    if (radio) { radio.checked = true; }
  }

  function addRow(role, values) {
    var holder = document.createElement("ol");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(rows().length));
    var row = holder.querySelector("[data-recipient-row]");
    row.querySelector("[data-row-tools]").hidden = false;
    input(row, "routing_order").value = String(Math.min(maxOrder() + 1, 99));
    setRole(row, role);
    Object.keys(values || {}).forEach(function (field) {
      var el = input(row, field);
      if (el) { el.value = values[field]; }
    });
    list.appendChild(row);
    renumber();
    var first = input(row, values && values.name ? "phone" : "name");
    if (first) { first.focus(); }
    return row;
  }

  // Spare rows are for pages without script: keep one only when there is no recipient yet.
  var filled = rows().filter(function (row) { return !isBlank(row); });
  rows().forEach(function (row, index) {
    if (isBlank(row) && (filled.length || index > 0)) { row.remove(); }
  });
  rows().forEach(function (row) { row.querySelector("[data-row-tools]").hidden = false; });
  renumber();
  if (addBar) { addBar.hidden = false; }
  var help = form.querySelector("[data-nojs-help]");
  if (help) { help.hidden = true; }

  list.addEventListener("change", function (event) {
    var target = event.target;
    if (target.type === "radio" && /-role$/.test(target.name)) {
      target.closest("[data-recipient-row]").dataset.role = target.value;
    }
  });

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    var row = button.closest("[data-recipient-row]");
    if (button.hasAttribute("data-remove-row")) {
      row.remove();
      renumber();
    } else if (button.dataset.move) {
      var other = button.dataset.move === "up" ? row.previousElementSibling : row.nextElementSibling;
      if (!other) { return; }
      // The rows show the routing order: moving a row swaps its order number with its neighbour.
      var a = input(row, "routing_order");
      var b = input(other, "routing_order");
      var swap = a.value;
      a.value = b.value;
      b.value = swap;
      if (button.dataset.move === "up") { list.insertBefore(row, other); }
      else { list.insertBefore(other, row); }
      renumber();
      button.focus();
    }
  });

  if (addBar) {
    addBar.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      if (button.dataset.addRole) {
        addRow(button.dataset.addRole);
      } else if (button.hasAttribute("data-add-me")) {
        var me = addBar.dataset;
        if (me.orgName) {
          addRow("seal", {
            name: me.orgName, contact_name: me.meName, phone: me.mePhone, org_credit_code: me.orgCode || "",
            org: me.orgUuid || ""
          });
        } else {
          addRow("sign", { name: me.meName, phone: me.mePhone });
        }
      }
    });
  }

  setupFiles(form);
  setupDeadline(form);
}

function setupFiles(form) {
  var zone = form.querySelector("[data-dropzone]");
  if (!zone) { return; }
  var fileInput = zone.querySelector("input[type=file]");
  var upload = form.querySelector("button[value=upload]");
  var title = form.querySelector("input[name=title]");
  zone.classList.add("is-enhanced");

  function submitUpload() {
    if (!fileInput.files.length) { return; }
    if (title && !title.value.trim()) {
      title.value = fileInput.files[0].name.replace(/\.[^.]+$/, "").slice(0, 100);
    }
    zone.classList.add("is-uploading");
    if (form.requestSubmit && upload) { form.requestSubmit(upload); }
    else if (upload) { upload.click(); }
  }

  fileInput.addEventListener("change", submitUpload);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("is-over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
    try {
      fileInput.files = event.dataTransfer.files;
    } catch (error) {
      return;  // very old browsers: the picker still works
    }
    submitUpload();
  });
}

function setupDeadline(form) {
  var presets = form.querySelector("[data-deadline-presets]");
  var field = form.querySelector("input[name=deadline]");
  if (!presets || !field) { return; }
  presets.hidden = false;
  presets.addEventListener("click", function (event) {
    var chip = event.target.closest("[data-days]");
    if (!chip) { return; }
    var days = parseInt(chip.dataset.days, 10);
    if (!days) {
      field.value = "";
    } else {
      // 23:59 Beijing time (UTC+8, no daylight saving), whatever the device's zone.
      var beijing = new Date(Date.now() + 8 * 3600 * 1000 + days * 86400 * 1000);
      var pad = function (n) { return String(n).padStart(2, "0"); };
      field.value = beijing.getUTCFullYear() + "-" + pad(beijing.getUTCMonth() + 1) + "-" +
        pad(beijing.getUTCDate()) + "T23:59";
    }
    presets.querySelectorAll("[data-days]").forEach(function (other) {
      other.setAttribute("aria-pressed", String(other === chip));
    });
  });
}

// --- step 3: send once ------------------------------------------------------------------

export function setupOnce(button) {
  var form = button.form;
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    if (button.dataset.sending) { event.preventDefault(); return; }
    window.setTimeout(function () {
      if (event.defaultPrevented) { return; }
      button.dataset.sending = "1";
      button.disabled = true;
    }, 0);
  });
}
