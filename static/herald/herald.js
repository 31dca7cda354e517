// Small progressive enhancements. Every page works without this file: the bulk bar is then
// always shown, confirmations open as pages, and filters apply with the Search button.
(function () {
  "use strict";

  function updateBulkBar(form) {
    var bar = form.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var boxes = form.querySelectorAll("input[name=ids]");
    var checked = form.querySelectorAll("input[name=ids]:checked").length;
    bar.hidden = checked === 0;
    var count = bar.querySelector("[data-selected-count]");
    if (count) count.textContent = checked + " selected";
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = checked > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    form.querySelectorAll("tr[data-campaign]").forEach(function (row) {
      var box = row.querySelector("input[name=ids]");
      row.classList.toggle("is-selected", !!(box && box.checked));
    });
  }

  function modal() {
    return document.getElementById("modal");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var bulk = document.getElementById("bulk-form");
    if (bulk) {
      updateBulkBar(bulk);
      bulk.addEventListener("change", function (event) {
        if (event.target.matches("[data-select-all]")) {
          bulk.querySelectorAll("input[name=ids]").forEach(function (box) {
            box.checked = event.target.checked;
          });
        }
        updateBulkBar(bulk);
      });
    }

    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function (event) {
        if (event.target.matches("select, input[type=checkbox]")) form.requestSubmit();
      });
    });
  });

  // Confirmations load into the page's <dialog> (see base.html) and open as a modal.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = modal();
    if (dialog && event.detail.target === dialog && !dialog.open) dialog.showModal();
  });

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    var dialog = modal();
    if (closer && dialog) {
      event.preventDefault();
      dialog.close();
    } else if (dialog && event.target === dialog) {
      dialog.close(); // a click on the backdrop
    }
  });

  document.addEventListener("close", function (event) {
    if (event.target === modal()) event.target.innerHTML = "";
  }, true);
})();
