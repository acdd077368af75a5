/* 就业管理: the reason dialogs (签约鉴证不通过, 审核不通过 …) and opening an agreement by
   double-clicking its row, as the manual describes. Without script the pages still work: the
   lists have their 详情 buttons, and a dialog is shown open after a refused decision. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (!dialog) { return; }
      if (typeof dialog.showModal === "function") {
        if (dialog.open) { dialog.close(); }
        dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
      }
      var field = dialog.querySelector("textarea, input:not([type=hidden])");
      if (field) { field.focus(); }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open && typeof open.close === "function") { open.close(); }
      else if (open) { open.removeAttribute("open"); }
    }
  });

  document.addEventListener("dblclick", function (event) {
    var row = event.target.closest("tr[data-href]");
    if (row && !event.target.closest("a, button")) { window.location.href = row.getAttribute("data-href"); }
  });

  var year = document.querySelector("[data-template-url]");
  var link = document.querySelector("[data-template-link]");
  if (year && link) {
    year.addEventListener("change", function () {
      link.setAttribute("href", year.getAttribute("data-template-url") + "?year=" + encodeURIComponent(year.value));
    });
  }
})();
