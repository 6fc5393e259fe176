// Bill-run review: a "select every invoice on this page" box (the page works without it).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.querySelector("[data-select-all]");
    if (!all) { return; }
    var name = all.getAttribute("data-select-all");
    var boxes = document.querySelectorAll('input[type=checkbox][name="' + name + '"]');
    if (!boxes.length) { return; }
    all.closest(".select-all").hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
  });
})();
