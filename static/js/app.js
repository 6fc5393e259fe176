// Billing Admin: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  function banner(text) {
    var box = document.getElementById("htmx-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "htmx-error";
      box.className = "message message-error";
      box.setAttribute("role", "alert");
      var main = document.getElementById("main");
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
  }

  document.addEventListener("htmx:sendError", function () {
    banner("The server could not be reached. Check your connection and try again; nothing was changed.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 403) {
      banner("That action is not allowed, or the page has expired. Reload the page and try again.");
    } else {
      banner("Something went wrong (" + status + "). Reload the page and try again.");
    }
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var box = document.getElementById("htmx-error");
    if (box) { box.remove(); }
  });

  // Forms marked data-confirm ask before submitting (the server checks again regardless).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
