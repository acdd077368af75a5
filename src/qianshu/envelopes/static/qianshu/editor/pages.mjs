/* The field editor's documents and pages: which document is shown, the page indicator and page
 * links, finding the page under the pointer, and scrolling the pages while dragging. */
import { format } from "../format.mjs";
import { CROSS } from "./state.mjs";

export function setupPages(ed) {
  const root = ed.root;
  const state = ed.state;
  const S = ed.strings;
  const pageInfo = root.querySelector("[data-page-info]");

  function updateCrossAvailability() {
    const many = state.pageCount(state.doc) > 1;
    root.querySelectorAll(".ed-item[data-kind=" + CROSS + "]").forEach(function (item) {
      item.disabled = !many;
      item.title = many ? "" : S.needTwoPages;
    });
  }

  ed.showDocument = function (id) {
    state.doc = id;
    root.querySelectorAll(".ed-doc").forEach(function (el) { el.hidden = Number(el.dataset.document) !== id; });
    root.querySelectorAll("[data-chips-for]").forEach(function (el) { el.hidden = Number(el.dataset.chipsFor) !== id; });
    root.querySelectorAll("[data-thumbs-for]").forEach(function (el) { el.hidden = Number(el.dataset.thumbsFor) !== id; });
    const select = root.querySelector("[data-doc-select]");
    if (select) { select.value = String(id); }
    updateCrossAvailability();
    ed.selectField(null);
    observePages();
  };

  const docSelect = root.querySelector("[data-doc-select]");
  if (docSelect) {
    docSelect.addEventListener("change", function () { ed.showDocument(Number(docSelect.value)); });
  }

  ed.currentPages = function () {
    return state.documents[state.doc].pages.map(function (_, i) { return ed.pageEls[state.doc + ":" + i]; });
  };

  let observer = null;
  let visible = {};
  function observePages() {
    if (!("IntersectionObserver" in window)) { return; }
    if (observer) { observer.disconnect(); }
    visible = {};
    observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) { visible[entry.target.dataset.page] = entry.intersectionRatio; });
      let best = 0;
      let ratio = -1;
      Object.keys(visible).forEach(function (page) {
        if (visible[page] > ratio) { ratio = visible[page]; best = Number(page); }
      });
      showPageInfo(best);
    }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    ed.currentPages().forEach(function (el) { observer.observe(el); });
    showPageInfo(0);
  }

  function showPageInfo(page) {
    const total = state.pageCount(state.doc);
    pageInfo.textContent = format(S.pageOf, { n: page + 1, total: total });
    root.querySelectorAll("[data-chips-for='" + state.doc + "'] [data-goto-page], [data-thumbs-for='" +
      state.doc + "'] [data-goto-page]").forEach(function (link) {
      if (Number(link.dataset.gotoPage) === page) { link.setAttribute("aria-current", "page"); }
      else { link.removeAttribute("aria-current"); }
    });
  }

  root.addEventListener("click", function (event) {
    const link = event.target.closest("[data-goto-page]");
    if (!link) { return; }
    event.preventDefault();
    const el = ed.pageEls[state.doc + ":" + link.dataset.gotoPage];
    if (el) { el.scrollIntoView({ behavior: "smooth", block: "start" }); }
  });

  // --- hit testing and auto-scroll while dragging ---

  ed.pageAt = function (x, y) {
    const pages = ed.currentPages();
    for (let i = 0; i < pages.length; i++) {
      const rect = pages[i].getBoundingClientRect();
      if (x >= rect.left && x <= rect.right && y >= rect.top && y <= rect.bottom) {
        return { page: i, el: pages[i], rect: rect };
      }
    }
    return null;
  };

  const palette = root.querySelector("[data-palette]");
  const topbar = document.querySelector(".topbar");

  // What covers the top of the pages: the top bar, and on phones the sticky palette.
  function coveredTop() {
    let top = topbar ? topbar.getBoundingClientRect().bottom : 0;
    const rect = palette.getBoundingClientRect();
    if (rect.width > window.innerWidth * 0.8 && rect.top < top + 8) { top = Math.max(top, rect.bottom); }
    return top;
  }

  ed.dropTarget = function (x, y) {
    return y < coveredTop() ? null : ed.pageAt(x, y);
  };

  // While dragging near the top or bottom of the visible pages, scroll them.
  const scroller = { y: null, frame: 0 };
  ed.autoScroll = function (y) {
    scroller.y = y;
    if (scroller.frame) { return; }
    const step = function () {
      scroller.frame = 0;
      if (scroller.y === null) { return; }
      const edge = 60;
      const top = coveredTop();
      const bottom = window.innerHeight - 64;  // the action bar
      let speed = 0;
      if (scroller.y > top && scroller.y < top + edge) { speed = -Math.ceil((top + edge - scroller.y) / 5); }
      else if (scroller.y > bottom - edge) { speed = Math.ceil((scroller.y - bottom + edge) / 5); }
      if (speed) {
        window.scrollBy(0, speed);
        scroller.frame = window.requestAnimationFrame(step);
      }
    };
    scroller.frame = window.requestAnimationFrame(step);
  };

  ed.stopScroll = function () {
    scroller.y = null;
    if (scroller.frame) { window.cancelAnimationFrame(scroller.frame); scroller.frame = 0; }
  };
}
