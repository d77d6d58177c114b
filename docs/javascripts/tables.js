// Sortable, filterable index tables: every table inside <div class="iamkb-table"> gets a filter box and
// clickable headers. Runs on each page load, including Material's instant navigation (document$).
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell ? cell.textContent.trim() : "";
  }

  function compare(a, b) {
    var na = parseFloat(a), nb = parseFloat(b);
    if (!isNaN(na) && !isNaN(nb) && String(na) === a && String(nb) === b) return na - nb;
    return a.localeCompare(b, undefined, { sensitivity: "base", numeric: true });
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.classList.add("iamkb-sortable");
      // A real button inside the header cell: reachable with Tab, pressed with Enter or Space, and the cell
      // keeps its column-header role (aria-sort says the order to assistive technology).
      var button = document.createElement("button");
      button.type = "button";
      button.className = "iamkb-sort";
      button.title = "Sort by this column";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      function sort() {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        rows.sort(function (r1, r2) {
          var c = compare(cellValue(r1, index), cellValue(r2, index));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      button.addEventListener("click", sort);
    });
  }

  function makeFilterable(wrapper, table) {
    var input = document.createElement("input");
    input.type = "search";
    input.className = "iamkb-filter md-input";
    input.placeholder = "Filter " + table.tBodies[0].rows.length + " rows…";
    input.setAttribute("aria-label", "Filter the table");
    var count = document.createElement("span");
    count.className = "iamkb-filter-count";
    count.setAttribute("role", "status");  // "12 shown" is read out as the reader types
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var ok = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !ok;
        if (ok) shown += 1;
      });
      count.textContent = words.length ? shown + " shown" : "";
    });
    wrapper.insertBefore(count, wrapper.firstChild);
    wrapper.insertBefore(input, wrapper.firstChild);
  }

  function setup() {
    document.querySelectorAll(".iamkb-table").forEach(function (wrapper) {
      if (wrapper.dataset.ready) return;
      var table = wrapper.querySelector("table");
      if (!table || !table.tBodies.length) return;
      wrapper.dataset.ready = "1";
      makeSortable(table);
      makeFilterable(wrapper, table);
    });
  }

  // Material's document$ fires on every instant navigation; it may not fire on file:// pages, so set up on
  // load as well (setup is idempotent).
  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
