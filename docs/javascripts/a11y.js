// What the theme's markup leaves out for readers with a screen reader, a keyboard or a phone:
// - names for the search dialog, the page-load progress bar and the breadcrumbs (an unnamed dialog is announced
//   as nothing; two navigation landmarks of one name cannot be told apart);
// - a table that scrolls sideways becomes a named, focusable region, so it can be scrolled with the arrow keys;
// - each cell of a card table (`.iamkb-cards`, stacked as cards on a phone by a11y.css) carries its column's
//   name, which the card shows before the value.
// Runs on each page view, including Material's instant navigation (document$); every step is idempotent.
(function () {
  "use strict";

  function name(selector, label) {
    document.querySelectorAll(selector).forEach(function (node) {
      if (!node.hasAttribute("aria-label") && !node.hasAttribute("aria-labelledby")) {
        node.setAttribute("aria-label", label);
      }
    });
  }

  function headers(table) {
    var row = table.tHead && table.tHead.rows[0];
    return row ? Array.prototype.map.call(row.cells, function (th) { return th.textContent.trim(); }) : [];
  }

  function scrollableTables() {
    document.querySelectorAll(".md-typeset__scrollwrap").forEach(function (wrap) {
      var table = wrap.querySelector("table");
      if (!table) return;
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", "Table: " + headers(table).join(", "));
      } else if (wrap.getAttribute("role") === "region") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }

  function cardLabels() {
    document.querySelectorAll(".iamkb-cards table").forEach(function (table) {
      var names = headers(table);
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          Array.prototype.forEach.call(row.cells, function (cell, i) {
            if (names[i]) cell.setAttribute("data-label", names[i]);
          });
        });
      });
    });
  }

  function setup() {
    name(".md-search[role=dialog]", "Search");
    name(".md-progress[role=progressbar]", "Loading the page");
    // The bar only draws the progress of an instant page load; the page's new title is what a screen reader
    // announces, so the bar is hidden from it (it sits outside every landmark).
    document.querySelectorAll(".md-progress").forEach(function (bar) { bar.setAttribute("aria-hidden", "true"); });
    // The breadcrumbs share the sidebar's label ("Navigation"); two landmarks of one name cannot be told apart.
    document.querySelectorAll("nav.md-path").forEach(function (nav) { nav.setAttribute("aria-label", "Breadcrumb"); });
    cardLabels();
    scrollableTables();
  }

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(scrollableTables, 200);
  });
  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
