// clientcreds console: progressive enhancement only. Every page works
// without this script; it adds copy buttons, confirm dialogs, and clears
// the one-time secret from the page when the reveal is dismissed.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select();
        });
      } else {
        field.select();
        if (document.execCommand("copy")) { done(); }
      }
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
  document.querySelectorAll("form.dismiss").forEach(function (form) {
    form.addEventListener("submit", function () {
      document.querySelectorAll("input.secret").forEach(function (input) {
        input.value = "";
      });
    });
  });
});
