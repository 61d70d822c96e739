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
    // Bedside form: a scanner types the wristband or unit code and presses Enter; Enter moves on to the
    // next field instead of submitting half a record. The record is saved with the button only.
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (ev.key !== "Enter" || t.tagName !== "INPUT" || !t.form || !t.form.classList.contains("bedside-form")) { return; }
      ev.preventDefault();
      var fields = Array.prototype.filter.call(t.form.elements, function (el) {
        return !el.disabled && el.type !== "hidden" && el.tagName !== "FIELDSET";
      });
      var next = fields[fields.indexOf(t) + 1];
      if (next) { next.focus(); }
    });
    // Results forms (form.entry): Enter in a list saves, as in a text field; Chromium would open the
    // list instead. A list opened on purpose (click, Space, Alt+Down, F4) keeps Enter to choose an option.
    var opened = null;
    document.addEventListener("mousedown", function (ev) {
      if (ev.target.tagName === "SELECT") { opened = ev.target; }
    }, true);
    document.addEventListener("change", function () { opened = null; }, true);
    document.addEventListener("focusout", function () { opened = null; }, true);
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (t.tagName !== "SELECT" || !t.form || !t.form.classList.contains("entry")) { return; }
      if (ev.key === " " || ev.key === "F4" || (ev.altKey && (ev.key === "ArrowDown" || ev.key === "ArrowUp"))) {
        opened = t;
      } else if (ev.key === "Escape") {
        opened = null;
      } else if (ev.key === "Enter" && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
        if (opened === t) { opened = null; return; }
        ev.preventDefault();
        t.form.requestSubmit();
      }
    });
  });
})();
