// Workstation helpers, served as a file so the CSP can forbid inline script.
(function () {
  "use strict";
  function focusScanBox() {
    var box = document.querySelector("[data-scanbox]");
    if (!box) { return; }
    // A page whose form asks for focus (autofocus on a field) keeps it; otherwise the scanner goes to the scan box.
    var other = document.querySelector("main [autofocus]");
    if (!other) { box.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    focusScanBox();
    // F2 from anywhere returns to the scan box (gloved users, no mouse needed).
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "F2") {
        var box = document.querySelector("[data-scanbox]");
        if (box) { ev.preventDefault(); box.focus(); box.select(); }
      }
    });
  });
})();
