/* 发起签署: the recipient rows of step 1, the field editor of step 2 (拖拽放置签署位置), and the
 * send button of step 3.
 *
 * Step 1 works without script (a fixed number of rows, a 上传 button); with script rows are added,
 * removed and reordered here (their formset names renumbered), a chosen file uploads at once, and
 * the deadline has presets.
 *
 * The editor keeps every field as fractions of its page (origin top-left), as the server expects
 * them; sizes shown to the user are in millimetres (1 pt = 25.4 / 72 mm). Pointer events serve mouse
 * and touch: drag a palette item onto a page, or tap it and then tap the page; drag a field to
 * move it (also to another page), its corner handle to resize it. A cross-page seal (骑缝章) sits
 * on the right edge of each chosen page as a strip; only its vertical position and size change.
 */
(function () {
  "use strict";

  var PT_PER_MM = 72 / 25.4;

  function clamp(value, low, high) { return Math.min(Math.max(value, low), high); }

  function format(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  // --- step 1: recipient rows, files, deadline -------------------------------------------

  function setupCompose(form) {
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

  function setupOnce(button) {
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

  // --- step 2: the field editor -----------------------------------------------------------

  function setupEditor(root) {
    var dataNode = document.getElementById("field-editor-data");
    if (!dataNode || !window.fetch) { return; }
    var config = JSON.parse(dataNode.textContent);
    var S = config.strings;
    var KINDS = config.kinds;
    var MIN_PT = Math.max(config.minSide, 16);
    var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
    var recipients = {};
    var documents = {};
    config.recipients.forEach(function (r) { recipients[r.id] = r; });
    config.documents.forEach(function (d) { documents[d.id] = d; });
    if (!config.documents.length) { return; }

    var nextKey = 1;
    var fields = config.fields.map(function (f) {
      return Object.assign({}, f, { key: nextKey++, pages: (f.pages || []).slice() });
    });
    var state = {
      doc: config.documents[0].id,
      recipient: config.recipients.length ? config.recipients[0].id : null,
      selected: null,
      armed: null,
      dirty: false,
      saving: false
    };
    var pageEls = {};  // "doc:page" → .ed-page
    root.querySelectorAll(".ed-doc").forEach(function (docEl) {
      docEl.querySelectorAll(".ed-page").forEach(function (pageEl) {
        var layer = document.createElement("div");
        layer.className = "ed-layer";
        pageEl.appendChild(layer);
        pageEls[docEl.dataset.document + ":" + pageEl.dataset.page] = pageEl;
      });
    });
    root.classList.add("is-ready");

    var inspector = root.querySelector("[data-inspector]");
    var statusEl = root.querySelector("[data-save-status]");
    var errorEl = root.querySelector("[data-save-error]");
    var hint = root.querySelector("[data-place-hint]");
    var pageInfo = root.querySelector("[data-page-info]");

    function box(docId, page) { return documents[docId].pages[page]; }
    function byKey(key) { return fields.find(function (f) { return f.key === key; }); }
    function isCross(f) { return f.kind === "cross_page_seal"; }
    function isRound(kind) { return kind === "seal" || kind === "cross_page_seal"; }

    // Size of a field in points (a cross-page seal: its whole seal, before it is cut).
    function sizePt(f) {
      var b = box(f.document, isCross(f) ? f.pages[0] : f.page);
      return { w: f.width * b.w, h: f.height * b.h };
    }

    function setSizePt(f, w, h) {
      var b = box(f.document, isCross(f) ? f.pages[0] : f.page);
      if (isCross(f)) {
        var size = clamp(h, 40, 200);
        var centre = f.top + f.height / 2;
        f.height = size / b.h;
        f.width = size / b.w;
        f.top = clamp(centre - f.height / 2, 0, 1 - f.height);
        f.left = 1 - f.width / f.pages.length;
        return;
      }
      w = clamp(w, MIN_PT, b.w);
      h = clamp(h, MIN_PT, b.h);
      if (isRound(f.kind)) { w = h = Math.min(w, h, b.w, b.h); }
      f.width = w / b.w;
      f.height = h / b.h;
      f.left = clamp(f.left, 0, 1 - f.width);
      f.top = clamp(f.top, 0, 1 - f.height);
    }

    // Where a cross-page seal's strip sits on one of its pages (fractions of that page).
    function stripOn(f, page) {
      var first = box(f.document, f.pages[0]);
      var b = box(f.document, page);
      var size = f.height * first.h;
      var half = size / 2;
      var centre = first.y1 + first.h - (f.top * first.h + half);  // PDF y of the seal's centre
      centre = clamp(centre, b.y1 + half, b.y1 + b.h - half);
      var strip = size / f.pages.length;
      return {
        left: 1 - strip / b.w,
        top: (b.y1 + b.h - centre - half) / b.h,
        width: strip / b.w,
        height: size / b.h
      };
    }

    function newField(kind, recipientId, docId, page, centreX, centreY) {
      var spec = KINDS[kind];
      var doc = documents[docId];
      var b = box(docId, page);
      var f = { key: nextKey++, recipient: recipientId, document: docId, kind: kind, page: page,
        pages: [], label: "", left: 0, top: 0, width: spec.w / b.w, height: spec.h / b.h };
      if (kind === "cross_page_seal") {
        f.pages = doc.pages.map(function (_, i) { return i; });
        f.page = 0;
        var first = box(docId, 0);
        f.height = spec.h / first.h;
        f.width = spec.w / first.w;
        f.top = clamp(centreY * (b.h / first.h) - f.height / 2, 0, 1 - f.height);
        f.left = 1 - f.width / f.pages.length;
      } else {
        f.left = clamp(centreX - f.width / 2, 0, 1 - f.width);
        f.top = clamp(centreY - f.height / 2, 0, 1 - f.height);
      }
      return f;
    }

    function labelOf(f) {
      var r = recipients[f.recipient];
      return (r ? r.name : "") + " · " + KINDS[f.kind].label;
    }

    // --- rendering ---

    function pct(value) { return (value * 100).toFixed(4) + "%"; }

    function place(el, rect) {
      el.style.left = pct(rect.left);
      el.style.top = pct(rect.top);
      el.style.width = pct(rect.width);
      el.style.height = pct(rect.height);
    }

    function fieldElement(f, rect, part) {
      var r = recipients[f.recipient];
      var el = document.createElement("div");
      el.className = "ed-field ed-f-" + f.kind + (f.key === state.selected ? " is-selected" : "");
      el.dataset.key = String(f.key);
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", labelOf(f));
      el.style.setProperty("--c", r ? r.colour : "#616e7c");
      place(el, rect);
      var text = document.createElement("span");
      text.className = "ed-flabel";
      text.textContent = f.kind === "text" && f.label ? (r ? r.name + " · " : "") + f.label
        : part ? KINDS[f.kind].label + " " + part : labelOf(f);
      el.appendChild(text);
      if (f.key === state.selected) {
        var del = document.createElement("button");
        del.type = "button";
        del.className = "ed-fdel";
        del.setAttribute("aria-label", S.delete);
        del.textContent = "×";
        el.appendChild(del);
        var handle = document.createElement("span");
        handle.className = "ed-fhandle";
        handle.setAttribute("aria-hidden", "true");
        el.appendChild(handle);
      }
      return el;
    }

    function render() {
      Object.keys(pageEls).forEach(function (id) {
        var layer = pageEls[id].querySelector(".ed-layer");
        while (layer.firstChild) { layer.removeChild(layer.firstChild); }
      });
      fields.forEach(function (f) {
        if (f.document !== state.doc) { return; }
        if (isCross(f)) {
          f.pages.forEach(function (page, i) {
            var pageEl = pageEls[f.document + ":" + page];
            if (!pageEl) { return; }
            var part = (i + 1) + "/" + f.pages.length;
            pageEl.querySelector(".ed-layer").appendChild(fieldElement(f, stripOn(f, page), part));
          });
        } else {
          var pageEl = pageEls[f.document + ":" + f.page];
          if (pageEl) { pageEl.querySelector(".ed-layer").appendChild(fieldElement(f, f, "")); }
        }
      });
      renderCounts();
      renderInspector();
    }

    function renderCounts() {
      config.recipients.forEach(function (r) {
        var el = root.querySelector("[data-count-for='" + r.id + "']");
        if (!el) { return; }
        var n = fields.filter(function (f) { return f.recipient === r.id; }).length;
        el.textContent = n ? format(S.fieldCount, { n: n }) : S.noFields;
        el.classList.toggle("is-empty", !n);
      });
    }

    function markDirty() {
      state.dirty = true;
      statusEl.textContent = S.unsaved;
      errorEl.hidden = true;
    }

    // --- recipient, palette, documents ---

    function chooseRecipient(id) {
      state.recipient = id;
      root.querySelectorAll(".ed-recipient").forEach(function (button) {
        button.setAttribute("aria-checked", String(Number(button.dataset.recipient) === id));
      });
      root.querySelectorAll("[data-items-for]").forEach(function (items) {
        items.hidden = Number(items.dataset.itemsFor) !== id;
      });
      disarm();
    }

    root.querySelectorAll(".ed-recipient").forEach(function (button) {
      button.addEventListener("click", function () { chooseRecipient(Number(button.dataset.recipient)); });
    });

    function updateCrossAvailability() {
      var many = documents[state.doc].pages.length > 1;
      root.querySelectorAll(".ed-item[data-kind=cross_page_seal]").forEach(function (item) {
        item.disabled = !many;
        item.title = many ? "" : S.needTwoPages;
      });
    }

    function showDocument(id) {
      state.doc = id;
      root.querySelectorAll(".ed-doc").forEach(function (el) { el.hidden = Number(el.dataset.document) !== id; });
      root.querySelectorAll("[data-chips-for]").forEach(function (el) { el.hidden = Number(el.dataset.chipsFor) !== id; });
      root.querySelectorAll("[data-thumbs-for]").forEach(function (el) { el.hidden = Number(el.dataset.thumbsFor) !== id; });
      var select = root.querySelector("[data-doc-select]");
      if (select) { select.value = String(id); }
      updateCrossAvailability();
      selectField(null);
      observePages();
    }

    var docSelect = root.querySelector("[data-doc-select]");
    if (docSelect) {
      docSelect.addEventListener("change", function () { showDocument(Number(docSelect.value)); });
    }

    function currentPages() {
      return documents[state.doc].pages.map(function (_, i) { return pageEls[state.doc + ":" + i]; });
    }

    var observer = null;
    var visible = {};
    function observePages() {
      if (!("IntersectionObserver" in window)) { return; }
      if (observer) { observer.disconnect(); }
      visible = {};
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) { visible[entry.target.dataset.page] = entry.intersectionRatio; });
        var best = 0;
        var ratio = -1;
        Object.keys(visible).forEach(function (page) {
          if (visible[page] > ratio) { ratio = visible[page]; best = Number(page); }
        });
        showPageInfo(best);
      }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
      currentPages().forEach(function (el) { observer.observe(el); });
      showPageInfo(0);
    }

    function showPageInfo(page) {
      var total = documents[state.doc].pages.length;
      pageInfo.textContent = format(S.pageOf, { n: page + 1, total: total });
      root.querySelectorAll("[data-chips-for='" + state.doc + "'] [data-goto-page], [data-thumbs-for='" +
        state.doc + "'] [data-goto-page]").forEach(function (link) {
        if (Number(link.dataset.gotoPage) === page) { link.setAttribute("aria-current", "page"); }
        else { link.removeAttribute("aria-current"); }
      });
    }

    root.addEventListener("click", function (event) {
      var link = event.target.closest("[data-goto-page]");
      if (!link) { return; }
      event.preventDefault();
      var el = pageEls[state.doc + ":" + link.dataset.gotoPage];
      if (el) { el.scrollIntoView({ behavior: "smooth", block: "start" }); }
    });

    // --- hit testing and auto-scroll while dragging ---

    function pageAt(x, y) {
      var pages = currentPages();
      for (var i = 0; i < pages.length; i++) {
        var rect = pages[i].getBoundingClientRect();
        if (x >= rect.left && x <= rect.right && y >= rect.top && y <= rect.bottom) {
          return { page: i, el: pages[i], rect: rect };
        }
      }
      return null;
    }

    var palette = root.querySelector("[data-palette]");
    var topbar = document.querySelector(".topbar");

    // What covers the top of the pages: the top bar, and on phones the sticky palette.
    function coveredTop() {
      var top = topbar ? topbar.getBoundingClientRect().bottom : 0;
      var rect = palette.getBoundingClientRect();
      if (rect.width > window.innerWidth * 0.8 && rect.top < top + 8) { top = Math.max(top, rect.bottom); }
      return top;
    }

    function dropTarget(x, y) {
      return y < coveredTop() ? null : pageAt(x, y);
    }

    // While dragging near the top or bottom of the visible pages, scroll them.
    var scroller = { y: null, frame: 0 };
    function autoScroll(y) {
      scroller.y = y;
      if (scroller.frame) { return; }
      var step = function () {
        scroller.frame = 0;
        if (scroller.y === null) { return; }
        var edge = 60;
        var top = coveredTop();
        var bottom = window.innerHeight - 64;  // the action bar
        var speed = 0;
        if (scroller.y > top && scroller.y < top + edge) { speed = -Math.ceil((top + edge - scroller.y) / 5); }
        else if (scroller.y > bottom - edge) { speed = Math.ceil((scroller.y - bottom + edge) / 5); }
        if (speed) {
          window.scrollBy(0, speed);
          scroller.frame = window.requestAnimationFrame(step);
        }
      };
      scroller.frame = window.requestAnimationFrame(step);
    }
    function stopScroll() {
      scroller.y = null;
      if (scroller.frame) { window.cancelAnimationFrame(scroller.frame); scroller.frame = 0; }
    }

    // --- adding fields: drag from the palette, or tap then tap the page ---

    function addField(kind, recipientId, hit, x, y) {
      var f = newField(kind, recipientId, state.doc, hit.page,
        (x - hit.rect.left) / hit.rect.width, (y - hit.rect.top) / hit.rect.height);
      fields.push(f);
      markDirty();
      selectField(f.key);
    }

    function arm(kind) {
      if (state.selected !== null) { selectField(null); }
      state.armed = kind;
      root.classList.add("is-armed");
      root.querySelectorAll(".ed-item").forEach(function (item) {
        item.setAttribute("aria-pressed", String(item.dataset.kind === kind &&
          Number(item.dataset.recipient) === state.recipient));
      });
      hint.querySelector("[data-place-text]").textContent = format(S.placeHint, { kind: KINDS[kind].label });
      hint.hidden = false;
    }

    function disarm() {
      state.armed = null;
      root.classList.remove("is-armed");
      root.querySelectorAll(".ed-item").forEach(function (item) { item.setAttribute("aria-pressed", "false"); });
      hint.hidden = true;
    }

    hint.querySelector("[data-place-cancel]").addEventListener("click", disarm);

    // Taps are handled at pointerup (a synthesised click does not always follow a touch);
    // clicks only serve the keyboard (a click from Enter or Space has detail 0).
    var paletteDrag = null;

    root.querySelectorAll(".ed-item").forEach(function (item) {
      item.addEventListener("pointerdown", function (event) {
        if (item.disabled || event.button > 0) { return; }
        paletteDrag = { item: item, id: event.pointerId, x: event.clientX, y: event.clientY, ghost: null };
        try { item.setPointerCapture(event.pointerId); } catch (error) { /* synthetic events */ }
      });
      item.addEventListener("pointermove", function (event) {
        var drag = paletteDrag;
        if (!drag || drag.id !== event.pointerId) { return; }
        if (!drag.ghost) {
          if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < 6) { return; }
          drag.ghost = ghostFor(item.dataset.kind, Number(item.dataset.recipient));
          document.body.appendChild(drag.ghost);
          root.classList.add("is-dragging");
          disarm();
        }
        event.preventDefault();
        drag.ghost.style.transform = "translate(" + (event.clientX - drag.ghost.offsetWidth / 2) + "px," +
          (event.clientY - drag.ghost.offsetHeight / 2) + "px)";
        var hit = dropTarget(event.clientX, event.clientY);
        currentPages().forEach(function (el) { el.classList.toggle("is-target", !!hit && hit.el === el); });
        autoScroll(event.clientY);
      });
      var finish = function (event, drop) {
        var drag = paletteDrag;
        if (!drag || drag.id !== event.pointerId) { return; }
        paletteDrag = null;
        stopScroll();
        currentPages().forEach(function (el) { el.classList.remove("is-target"); });
        root.classList.remove("is-dragging");
        if (!drag.ghost) {
          if (drop) { toggleArm(item); }
          return;
        }
        drag.ghost.remove();
        var hit = drop && dropTarget(event.clientX, event.clientY);
        if (hit) { addField(item.dataset.kind, Number(item.dataset.recipient), hit, event.clientX, event.clientY); }
      };
      item.addEventListener("pointerup", function (event) { finish(event, true); });
      item.addEventListener("pointercancel", function (event) { finish(event, false); });
      item.addEventListener("click", function (event) {
        if (event.detail === 0) { toggleArm(item); }
      });
    });

    function toggleArm(item) {
      if (item.disabled) { return; }
      if (state.armed === item.dataset.kind) { disarm(); } else { arm(item.dataset.kind); }
    }

    function ghostFor(kind, recipientId) {
      var spec = KINDS[kind];
      var pageEl = currentPages()[0];
      var b = box(state.doc, 0);
      var scale = pageEl.getBoundingClientRect().width / b.w;
      var ghost = document.createElement("div");
      ghost.className = "ed-field ed-ghost ed-f-" + kind;
      ghost.style.setProperty("--c", recipients[recipientId].colour);
      var w = kind === "cross_page_seal" ? spec.w / Math.max(documents[state.doc].pages.length, 2) : spec.w;
      ghost.style.width = Math.max(w * scale, 24) + "px";
      ghost.style.height = Math.max(spec.h * scale, 16) + "px";
      var text = document.createElement("span");
      text.className = "ed-flabel";
      text.textContent = recipients[recipientId].name + " · " + spec.label;
      ghost.appendChild(text);
      return ghost;
    }

    // Tap-to-place: a tap on a page (not on a field) while an item is armed; else it deselects.
    var press = null;
    root.addEventListener("pointerdown", function (event) {
      press = null;
      if (event.button > 0 || event.target.closest(".ed-field") || !event.target.closest(".ed-page")) { return; }
      press = { id: event.pointerId, x: event.clientX, y: event.clientY };
    });
    root.addEventListener("pointercancel", function () { press = null; });
    root.addEventListener("pointerup", function (event) {
      var p = press;
      press = null;
      if (!p || p.id !== event.pointerId || Math.hypot(event.clientX - p.x, event.clientY - p.y) > 8) { return; }
      if (state.armed && state.recipient !== null) {
        var hit = pageAt(event.clientX, event.clientY);
        if (hit) { addField(state.armed, state.recipient, hit, event.clientX, event.clientY); }
        disarm();
      } else if (state.selected !== null) {
        selectField(null);
      }
    });

    // --- moving and resizing fields ---

    var gesture = null;

    root.addEventListener("pointerdown", function (event) {
      var el = event.target.closest(".ed-field");
      if (!el || el.classList.contains("ed-ghost") || event.button > 0) { return; }
      if (event.target.closest(".ed-fdel")) { return; }
      var f = byKey(Number(el.dataset.key));
      if (!f) { return; }
      event.preventDefault();
      var resizing = !!event.target.closest(".ed-fhandle");
      if (state.selected !== f.key) {
        selectField(f.key);
        // render() replaced the elements: take the one under the pointer again
        var under = document.elementFromPoint(event.clientX, event.clientY);
        el = (under && under.closest(".ed-field[data-key='" + f.key + "']")) ||
          root.querySelector(".ed-field[data-key='" + f.key + "']");
      }
      var pageEl = el.closest(".ed-page");
      var rect = pageEl.getBoundingClientRect();
      var elRect = el.getBoundingClientRect();
      gesture = {
        id: event.pointerId, el: el, key: f.key, resizing: resizing, moved: false,
        x: event.clientX, y: event.clientY, scrollY: window.scrollY,
        start: Object.assign({}, f), startSize: sizePt(f),
        page: Number(pageEl.dataset.page), pageRect: rect,
        grabX: event.clientX - elRect.left, grabY: event.clientY - elRect.top
      };
      try { el.setPointerCapture(event.pointerId); } catch (error) { /* synthetic events */ }
    });

    root.addEventListener("pointermove", function (event) {
      var g = gesture;
      if (!g || g.id !== event.pointerId) { return; }
      var dx = event.clientX - g.x;
      var dy = event.clientY - g.y + (window.scrollY - g.scrollY);
      if (!g.moved && Math.hypot(dx, dy) < 3) { return; }
      g.moved = true;
      event.preventDefault();
      var f = byKey(g.key);
      var scale = g.pageRect.width / box(f.document, g.page).w;  // px per point
      if (g.resizing) {
        var w = g.startSize.w + dx / scale;
        var h = g.startSize.h + dy / scale;
        if (isRound(f.kind)) { w = h = Math.max(w, h); }
        Object.assign(f, g.start);
        setSizePt(f, w, h);
        if (isCross(f)) { f.top = clamp(g.start.top, 0, 1 - f.height); }  // the top edge stays
        renderField(f);
      } else if (isCross(f)) {
        var first = box(f.document, f.pages[0]);
        f.top = clamp(g.start.top + dy / scale / first.h, 0, 1 - f.height);
        renderField(f);
      } else {
        // Follow the pointer freely (maybe onto another page); the drop decides the page.
        g.el.style.transform = "translate(" + dx + "px," + dy + "px)";
        g.el.classList.add("is-moving");
      }
      autoScroll(event.clientY);
    });

    function endGesture(event, cancelled) {
      var g = gesture;
      if (!g || g.id !== event.pointerId) { return; }
      gesture = null;
      stopScroll();
      if (!g.moved) { return; }
      var f = byKey(g.key);
      if (cancelled) {
        Object.assign(f, g.start);
      } else if (!g.resizing && !isCross(f)) {
        var size = sizePt(f);
        var hit = pageAt(event.clientX, event.clientY) ||
          { page: g.page, el: pageEls[f.document + ":" + g.page], rect: pageEls[f.document + ":" + g.page].getBoundingClientRect() };
        var b = box(f.document, hit.page);
        f.page = hit.page;
        f.width = size.w / b.w;
        f.height = size.h / b.h;
        f.left = clamp((event.clientX - g.grabX - hit.rect.left) / hit.rect.width, 0, 1 - f.width);
        f.top = clamp((event.clientY - g.grabY - hit.rect.top) / hit.rect.height, 0, 1 - f.height);
      }
      markDirty();
      render();
    }
    root.addEventListener("pointerup", function (event) { endGesture(event, false); });
    root.addEventListener("pointercancel", function (event) { endGesture(event, true); });

    // During a resize or a cross-page move only the field's own elements change.
    function renderField(f) {
      var els = root.querySelectorAll(".ed-field[data-key='" + f.key + "']");
      if (isCross(f)) {
        els.forEach(function (el) { place(el, stripOn(f, Number(el.closest(".ed-page").dataset.page))); });
      } else {
        els.forEach(function (el) { place(el, f); });
      }
    }

    root.addEventListener("click", function (event) {
      var del = event.target.closest(".ed-fdel");
      if (!del) { return; }
      event.stopPropagation();
      removeField(Number(del.closest(".ed-field").dataset.key));
    });

    function removeField(key) {
      fields = fields.filter(function (f) { return f.key !== key; });
      if (state.selected === key) { state.selected = null; }
      markDirty();
      render();
    }

    root.addEventListener("keydown", function (event) {
      var el = event.target.closest && event.target.closest(".ed-field");
      if (event.key === "Escape") {
        if (state.armed) { disarm(); } else { selectField(null); }
        return;
      }
      if (!el) { return; }
      var f = byKey(Number(el.dataset.key));
      if (!f) { return; }
      if (event.key === "Delete" || event.key === "Backspace") {
        event.preventDefault();
        removeField(f.key);
        return;
      }
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        selectField(f.key);
        return;
      }
      var moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      var move = moves[event.key];
      if (!move) { return; }
      event.preventDefault();
      var step = event.shiftKey ? 10 : 1;
      var b = box(f.document, isCross(f) ? f.pages[0] : f.page);
      if (!isCross(f)) { f.left = clamp(f.left + move[0] * step / b.w, 0, 1 - f.width); }
      f.top = clamp(f.top + move[1] * step / b.h, 0, 1 - f.height);
      markDirty();
      selectField(f.key);
      var focus = root.querySelector(".ed-field[data-key='" + f.key + "']");
      if (focus) { focus.focus(); }
    });

    // --- selection and inspector ---

    function selectField(key) {
      state.selected = key;
      render();
    }

    var insp = {
      title: inspector.querySelector("[data-insp-title]"),
      dot: inspector.querySelector("[data-insp-dot]"),
      recipient: inspector.querySelector("[data-insp-recipient]"),
      kind: inspector.querySelector("[data-insp-kind]"),
      page: inspector.querySelector("[data-insp-page]"),
      w: inspector.querySelector("[data-insp-w]"),
      h: inspector.querySelector("[data-insp-h]"),
      d: inspector.querySelector("[data-insp-d]"),
      label: inspector.querySelector("[data-insp-label]"),
      pages: inspector.querySelector("[data-insp-pages]"),
      pos: inspector.querySelector("[data-insp-pos]")
    };

    function options(select, items, value) {
      select.innerHTML = "";
      items.forEach(function (item) {
        var option = document.createElement("option");
        option.value = String(item[0]);
        option.textContent = item[1];
        select.appendChild(option);
      });
      select.value = String(value);
    }

    function show(part, on) {
      inspector.querySelectorAll("[data-insp-for='" + part + "']").forEach(function (el) { el.hidden = !on; });
    }

    function renderInspector() {
      var f = state.selected === null ? null : byKey(state.selected);
      inspector.hidden = !f;
      root.classList.toggle("has-selection", !!f);
      if (!f) { return; }
      var r = recipients[f.recipient];
      insp.title.textContent = labelOf(f);
      insp.dot.style.setProperty("--c", r.colour);
      options(insp.recipient, config.recipients.filter(function (x) {
        return x.kinds.indexOf(f.kind) >= 0;
      }).map(function (x) { return [x.id, format(S.recipientOption, { name: x.name, role: x.roleLabel })]; }), f.recipient);
      options(insp.kind, r.kinds.filter(function (k) {
        return k !== "cross_page_seal" || documents[f.document].pages.length > 1;
      }).map(function (k) { return [k, KINDS[k].label]; }), f.kind);
      var pageCount = documents[f.document].pages.length;
      show("page", !isCross(f) && pageCount > 1);
      if (!isCross(f)) {
        options(insp.page, documents[f.document].pages.map(function (_, i) {
          return [i, format(S.page, { n: i + 1 })];
        }), f.page);
      }
      var size = sizePt(f);
      show("size", !isRound(f.kind));
      show("diameter", isRound(f.kind));
      if (document.activeElement !== insp.w) { insp.w.value = String(Math.round(size.w / PT_PER_MM)); }
      if (document.activeElement !== insp.h) { insp.h.value = String(Math.round(size.h / PT_PER_MM)); }
      if (document.activeElement !== insp.d) { insp.d.value = String(Math.round(size.h / PT_PER_MM)); }
      show("label", f.kind === "text");
      if (document.activeElement !== insp.label) { insp.label.value = f.label || ""; }
      show("cross", isCross(f));
      if (isCross(f)) {
        insp.pages.innerHTML = "";
        documents[f.document].pages.forEach(function (_, i) {
          var label = document.createElement("label");
          label.className = "ed-pagecheck";
          var box_ = document.createElement("input");
          box_.type = "checkbox";
          box_.value = String(i);
          box_.checked = f.pages.indexOf(i) >= 0;
          label.appendChild(box_);
          label.appendChild(document.createTextNode(String(i + 1)));
          insp.pages.appendChild(label);
        });
        insp.pos.value = String(Math.round(f.height >= 1 ? 0 : f.top / (1 - f.height) * 100));
      }
    }

    insp.recipient.addEventListener("change", function () {
      var f = byKey(state.selected);
      f.recipient = Number(insp.recipient.value);
      markDirty();
      render();
    });

    insp.kind.addEventListener("change", function () {
      var f = byKey(state.selected);
      var kind = insp.kind.value;
      var page = isCross(f) ? f.pages[0] : f.page;
      var centreX = isCross(f) ? 0.8 : f.left + f.width / 2;
      var rect = isCross(f) ? stripOn(f, page) : f;
      var centreY = rect.top + rect.height / 2;
      var replacement = newField(kind, f.recipient, f.document, page, centreX, centreY);
      replacement.key = f.key;
      replacement.label = f.label;
      fields[fields.indexOf(f)] = replacement;
      markDirty();
      render();
    });

    insp.page.addEventListener("change", function () {
      var f = byKey(state.selected);
      var size = sizePt(f);
      f.page = Number(insp.page.value);
      setSizePt(f, size.w, size.h);
      markDirty();
      render();
      var el = pageEls[f.document + ":" + f.page];
      if (el) { el.scrollIntoView({ behavior: "smooth", block: "center" }); }
    });

    function sizeChanged() {
      var f = byKey(state.selected);
      var size = sizePt(f);
      var w = parseFloat(insp.w.value);
      var h = parseFloat(insp.h.value);
      var d = parseFloat(insp.d.value);
      if (isRound(f.kind)) {
        if (!isNaN(d)) { setSizePt(f, d * PT_PER_MM, d * PT_PER_MM); }
      } else {
        setSizePt(f, isNaN(w) ? size.w : w * PT_PER_MM, isNaN(h) ? size.h : h * PT_PER_MM);
      }
      markDirty();
      render();
    }
    [insp.w, insp.h, insp.d].forEach(function (el) { el.addEventListener("change", sizeChanged); });

    insp.label.addEventListener("input", function () {
      var f = byKey(state.selected);
      f.label = insp.label.value.slice(0, 60);
      markDirty();
      // only the label text changes: keep the focus in the input
      root.querySelectorAll(".ed-field[data-key='" + f.key + "'] .ed-flabel").forEach(function (el) {
        el.textContent = (recipients[f.recipient].name + " · ") + (f.label || KINDS[f.kind].label);
      });
    });
    insp.label.addEventListener("change", render);

    insp.pages.addEventListener("change", function (event) {
      var f = byKey(state.selected);
      var chosen = Array.prototype.slice.call(insp.pages.querySelectorAll("input:checked"))
        .map(function (el) { return Number(el.value); });
      if (chosen.length < 2) {
        event.target.checked = true;
        showError(S.needTwoPages);
        return;
      }
      var size = sizePt(f);
      var strip = stripOn(f, f.pages[0]);
      f.pages = chosen;
      f.page = chosen[0];
      var b = box(f.document, chosen[0]);
      f.height = size.h / b.h;
      f.width = size.h / b.w;
      f.top = clamp(strip.top, 0, 1 - f.height);
      f.left = 1 - f.width / chosen.length;
      markDirty();
      render();
    });

    inspector.querySelector("[data-insp-allpages]").addEventListener("click", function () {
      var f = byKey(state.selected);
      var size = sizePt(f);
      f.pages = documents[f.document].pages.map(function (_, i) { return i; });
      f.page = 0;
      setSizePt(f, size.w, size.h);
      markDirty();
      render();
    });

    insp.pos.addEventListener("input", function () {
      var f = byKey(state.selected);
      f.top = clamp(Number(insp.pos.value) / 100 * (1 - f.height), 0, 1 - f.height);
      markDirty();
      renderField(f);
    });

    inspector.querySelectorAll("[data-insp-delete]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (state.selected !== null) { removeField(state.selected); }
      });
    });
    var more = inspector.querySelector("[data-insp-more]");
    more.addEventListener("click", function () {
      var open = !inspector.classList.contains("is-expanded");
      inspector.classList.toggle("is-expanded", open);
      more.setAttribute("aria-expanded", String(open));
    });
    inspector.querySelector("[data-insp-close]").addEventListener("click", function () { selectField(null); });

    // --- saving ---

    function showError(message) {
      errorEl.textContent = message;
      errorEl.hidden = false;
    }

    function payload() {
      return {
        fields: fields.map(function (f) {
          var out = { recipient: f.recipient, document: f.document, kind: f.kind, page: f.page,
            left: f.left, top: f.top, width: f.width, height: f.height, label: f.label || "" };
          if (isCross(f)) { out.pages = f.pages.slice().sort(function (a, b) { return a - b; }); out.page = out.pages[0]; }
          return out;
        })
      };
    }

    function save() {
      if (state.saving) { return Promise.resolve(false); }
      state.saving = true;
      statusEl.textContent = S.saving;
      errorEl.hidden = true;
      var sent = fields.slice();
      return fetch(config.saveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfInput.value, "X-Requested-With": "fetch" },
        body: JSON.stringify(payload())
      }).then(function (response) {
        return response.json().catch(function () { return { ok: false, message: S.failed }; });
      }).then(function (body) {
        state.saving = false;
        if (body.ok) {
          state.dirty = false;
          statusEl.textContent = body.message || S.saved;
          return true;
        }
        statusEl.textContent = S.unsaved;
        showError(body.message || S.failed);
        if (typeof body.index === "number" && sent[body.index]) {
          var f = sent[body.index];
          if (f.document !== state.doc) { showDocument(f.document); }
          selectField(f.key);
          var el = root.querySelector(".ed-field[data-key='" + f.key + "']");
          if (el) { el.scrollIntoView({ behavior: "smooth", block: "center" }); }
        }
        return false;
      }).catch(function () {
        state.saving = false;
        statusEl.textContent = S.unsaved;
        showError(S.failed);
        return false;
      });
    }

    root.querySelector("[data-save]").addEventListener("click", function () { save(); });
    root.querySelector("[data-next]").addEventListener("click", function (event) {
      if (!state.dirty) { return; }
      event.preventDefault();
      var href = event.currentTarget.href;
      save().then(function (ok) { if (ok) { window.location.href = href; } });
    });

    window.addEventListener("beforeunload", function (event) {
      if (!state.dirty) { return undefined; }
      event.preventDefault();
      event.returnValue = S.leave;
      return S.leave;
    });

    chooseRecipient(state.recipient);
    showDocument(state.doc);
    statusEl.textContent = "";
  }

  function start() {
    var form = document.querySelector("[data-compose-form]");
    if (form) { setupCompose(form); }
    var editor = document.getElementById("field-editor");
    if (editor) { setupEditor(editor); }
    document.querySelectorAll("button[data-once]").forEach(setupOnce);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
