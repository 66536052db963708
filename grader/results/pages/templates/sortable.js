// Sortable tables: a click on a column's button sorts by it (again: the other way).
// "?sort=COLUMN&dir=asc|desc" in the address sorts on load (handy for links and tests).
(function () {
  function value(cell, numeric) {
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  }
  function sortBy(table, th, dir) {
    var index = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var numeric = th.getAttribute("data-type") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, key: value(row.cells[index], numeric), i: i };
    });
    var sign = dir === "descending" ? -1 : 1;
    rows.sort(function (a, b) {
      if (a.key < b.key) { return -sign; }
      if (a.key > b.key) { return sign; }
      return a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(th.parentNode.cells, function (other) {
      if (other.hasAttribute("aria-sort")) { other.setAttribute("aria-sort", "none"); }
    });
    th.setAttribute("aria-sort", dir);
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        sortBy(table, th, th.getAttribute("aria-sort") === "ascending" ? "descending"
                                                                       : "ascending");
      });
    });
    var query = new URLSearchParams(window.location.search);
    var column = query.get("sort");
    if (column) {
      var th = table.querySelector('th[data-column="' + CSS.escape(column) + '"]');
      if (th) { sortBy(table, th, query.get("dir") === "desc" ? "descending" : "ascending"); }
    }
  });
})();
