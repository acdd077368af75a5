/* 文件管理: tick boxes (全选, count, cap) for 批量签署 / 下载, the 预览 dialog, and the busy state
   of the 批量签署 form. Without JavaScript the forms and links work as plain HTML. */
(() => {
  "use strict";

  const format = (template, value) => String(template || "").replace("%s", value);

  /* --- tick boxes ------------------------------------------------------------------------ */
  const form = document.getElementById("lists-form");
  if (form) {
    const boxes = () => Array.from(form.querySelectorAll('input[name="ids"]'));
    const all = form.querySelector("[data-select-all]");
    const counts = Array.from(form.querySelectorAll("[data-selected-count]"));
    const error = form.querySelector("[data-select-error]");
    const max = Number(form.dataset.max || 50);

    const showError = (text) => {
      if (!error) { return; }
      error.textContent = text;
      error.hidden = !text;
    };

    const update = () => {
      const list = boxes();
      const ticked = list.filter((box) => box.checked);
      for (const box of list) {
        const row = box.closest("tr");
        if (row) { row.classList.toggle("is-selected", box.checked); }
      }
      if (all) {
        all.checked = ticked.length > 0 && ticked.length === list.length;
        all.indeterminate = ticked.length > 0 && ticked.length < list.length;
      }
      for (const count of counts) {
        count.hidden = ticked.length === 0;
        count.textContent = String(ticked.length);
        count.setAttribute("aria-label", format(form.dataset.selectedText, ticked.length));
      }
      if (ticked.length <= max) { showError(""); }
    };

    form.addEventListener("change", (event) => {
      if (event.target === all) {
        for (const box of boxes()) { box.checked = all.checked; }
      }
      update();
    });

    form.addEventListener("submit", (event) => {
      const submitter = event.submitter;
      if (!submitter || !submitter.hasAttribute("data-needs-selection")) { return; }
      const ticked = boxes().filter((box) => box.checked).length;
      if (ticked === 0) {
        event.preventDefault();
        showError(form.dataset.noneText);
      } else if (ticked > max) {
        event.preventDefault();
        showError(form.dataset.maxText);
      }
    });

    // A row's card is a large touch target on phones: a tap outside links and buttons ticks it.
    form.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-envelope]");
      if (!row || event.target.closest("a, button, input, label")) { return; }
      if (!window.matchMedia("(max-width: 759px)").matches) { return; }
      const box = row.querySelector('input[name="ids"]');
      if (box) { box.checked = !box.checked; update(); }
    });

    update();
  }

  /* --- 任务目录 on phones: the current tab scrolled into view ---------------------------- */
  const current = document.querySelector('.lists-tabs a[aria-current="page"]');
  if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
    const bar = current.parentElement;
    bar.scrollLeft = current.offsetLeft - (bar.clientWidth - current.offsetWidth) / 2;
  }

  /* --- 预览 ------------------------------------------------------------------------------- */
  const dialog = document.getElementById("lists-preview");
  const dataNode = document.getElementById("lists-preview-data");
  if (dialog && dataNode && typeof dialog.showModal === "function") {
    const data = JSON.parse(dataNode.textContent || "{}");
    const text = document.getElementById("lists-preview-text");
    const title = dialog.querySelector("[data-preview-title]");
    const docs = dialog.querySelector("[data-preview-docs]");
    const pages = dialog.querySelector("[data-preview-pages]");
    const detail = dialog.querySelector("[data-preview-detail]");
    const sign = dialog.querySelector("[data-preview-sign]");
    let opener = null;

    const imageWidth = () => {
      const cssWidth = Math.min(pages.clientWidth || window.innerWidth, 800);
      return Math.round(cssWidth * (window.devicePixelRatio || 1));
    };

    const showDocument = (envelope, index) => {
      const documentData = envelope.documents[index];
      for (const [i, button] of Array.from(docs.children).entries()) {
        button.setAttribute("aria-pressed", String(i === index));
      }
      pages.replaceChildren();
      if (!documentData) { return; }
      const width = imageWidth();
      for (let page = 0; page < documentData.pages; page += 1) {
        const figure = document.createElement("figure");
        const img = document.createElement("img");
        img.loading = page < 2 ? "eager" : "lazy";
        img.decoding = "async";
        img.alt = `${documentData.name} ${format(text && text.dataset.page, page + 1)}`;
        const src = documentData.image.replace(/\/0\.png$/, `/${page}.png`) +
          `?w=${width}&r=${encodeURIComponent(documentData.revision)}`;
        // A page rendered for the first time can fail while the server is busy: retry twice.
        let tries = 0;
        img.addEventListener("error", () => {
          if (tries >= 2) { return; }
          tries += 1;
          window.setTimeout(() => { img.src = `${src}&retry=${tries}`; }, 400 * tries);
        });
        img.src = src;
        const caption = document.createElement("figcaption");
        caption.textContent = `${page + 1} / ${documentData.pages}`;
        figure.append(img, caption);
        pages.append(figure);
      }
      pages.scrollTop = 0;
    };

    const open = (uuid, link) => {
      const envelope = data[uuid];
      if (!envelope) { return false; }
      opener = link;
      title.textContent = envelope.title;
      detail.href = envelope.detail;
      sign.hidden = !envelope.sign;
      if (envelope.sign) {
        sign.href = envelope.sign;
        sign.textContent = envelope.action || sign.textContent;
      }
      docs.replaceChildren();
      if (envelope.documents.length > 1) {
        envelope.documents.forEach((documentData, index) => {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = documentData.name;
          button.title = documentData.name;
          button.addEventListener("click", () => showDocument(envelope, index));
          docs.append(button);
        });
      }
      dialog.showModal();
      showDocument(envelope, 0);
      return true;
    };

    document.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-preview]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
      if (open(link.dataset.preview, link)) { event.preventDefault(); }
    });
    dialog.querySelector("[data-preview-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) { dialog.close(); }  // a tap on the backdrop
    });
    dialog.addEventListener("close", () => {
      pages.replaceChildren();
      if (opener) { opener.focus(); }
    });
  }

  /* --- 批量签署: one submit, a busy state while the tasks are signed ------------------------- */
  const batchForm = document.querySelector(".batch-form");
  if (batchForm) {
    batchForm.addEventListener("submit", (event) => {
      const submitter = event.submitter;
      if (!submitter || submitter.value !== "sign") { return; }
      if (batchForm.getAttribute("aria-busy") === "true") {
        event.preventDefault();  // a double tap: the first submit is on its way
        return;
      }
      batchForm.setAttribute("aria-busy", "true");
      submitter.dataset.label = submitter.textContent;
      // Change the label after the browser has read the submitter's name and value.
      window.setTimeout(() => { submitter.textContent = batchForm.dataset.busyText; }, 0);
    });
    window.addEventListener("pageshow", () => batchForm.removeAttribute("aria-busy"));
  }
})();
