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
        // Label ticks wait until their dropdown closes, so several can be picked at once.
        if (event.target.closest("[data-label-filter]")) return;
        if (event.target.matches("select, input[type=checkbox]")) form.requestSubmit();
      });
    });

    document.querySelectorAll("[data-label-filter]").forEach(function (dropdown) {
      var ticked = checkedValues(dropdown);
      dropdown.addEventListener("toggle", function () {
        var form = dropdown.closest("form");
        if (!dropdown.open && form && checkedValues(dropdown) !== ticked) form.requestSubmit();
      });
    });
  });

  function checkedValues(root) {
    return Array.prototype.map
      .call(root.querySelectorAll("input[type=checkbox]:checked"), function (box) {
        return box.value;
      })
      .join(",");
  }

  // Narrow a list of labels as the user types: the label filter's and the picker's.
  function narrow(input, items, none) {
    var needle = input.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (item) {
      // The label's name only: not the "on 2 of 3" beside it.
      var name = item.querySelector(".chip") || item;
      var match = !needle || name.textContent.toLowerCase().indexOf(needle) !== -1;
      item.hidden = !match;
      if (match) shown += 1;
    });
    if (none) none.hidden = shown > 0;
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches("[data-filter-labels]")) {
      var list = target.closest("ul");
      narrow(target, list.querySelectorAll("li:has(input[type=checkbox])"), null);
    } else if (target.matches("[data-picker-filter]")) {
      var form = target.closest("form");
      narrow(
        target,
        form.querySelectorAll("[data-picker-list] .picker-item"),
        form.querySelector("[data-picker-none]")
      );
    }
  });

  // The picker's "create new": once the live check accepts a name, it joins the list, ticked,
  // and the input is free for another. (Without this the typed name is still sent and created.)
  function addNewLabel(form, name) {
    var list = form.querySelector("[data-picker-list]");
    var wanted = name.trim().toLowerCase();
    var existing = Array.prototype.find.call(list.querySelectorAll(".picker-item"), function (item) {
      return item.querySelector(".chip").textContent.trim().toLowerCase() === wanted;
    });
    if (existing) {
      existing.querySelector("input").checked = true;
      existing.hidden = false;
    } else {
      var item = document.createElement("label");
      item.className = "picker-item is-new";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.name = "new";
      box.value = name;
      box.checked = true;
      var chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = name;
      var tag = document.createElement("small");
      tag.className = "tag-new";
      tag.textContent = "new";
      item.append(box, " ", chip, " ", tag);
      list.insertBefore(item, list.querySelector(".picker-item, .picker-empty"));
      list.querySelectorAll(".picker-empty:not([data-picker-none])").forEach(function (p) {
        p.remove();
      });
    }
    var input = form.querySelector("[data-new-label]");
    input.value = "";
    input.focus();
    var check = document.getElementById(input.getAttribute("hx-target").slice(1));
    if (check) check.innerHTML = "";
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-label]");
    if (!add) return;
    event.preventDefault();
    addNewLabel(add.closest("form"), add.getAttribute("data-add-label"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.matches("[data-new-label]")) return;
    // Enter adds the name to the list rather than applying the picker half-filled.
    event.preventDefault();
    var form = event.target.closest("form");
    var add = form.querySelector("[data-add-label]");
    if (add && add.getAttribute("data-add-label") === event.target.value.trim()) add.click();
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
