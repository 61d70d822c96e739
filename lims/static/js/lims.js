// Workstation helpers, served as a file so the CSP can forbid inline script.
(function () {
  "use strict";
  function focusScanBox() {
    // A page whose form asks for focus (autofocus on a field) gives it to that field;
    // every other page gives it to the scan box, so a scanner's Enter opens the record.
    var other = document.querySelector("main [autofocus]");
    var box = document.querySelector("[data-scanbox]");
    if (other) { other.focus(); } else if (box) { box.focus(); }
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
