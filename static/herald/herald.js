// Small progressive enhancements. Every page works without this file: the bulk bar is then
// always shown, confirmations open as pages, and filters apply with the Search and Apply buttons.
(function () {
  "use strict";

  function updateBulkBar(form) {
    var bar = form.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var boxes = form.querySelectorAll("input[name=ids]");
    var checked = form.querySelectorAll("input[name=ids]:checked").length;
    var matching = form.querySelector("[data-select-matching]");
    var everyOnPage = checked > 0 && checked === boxes.length;
    // "Select all N matching" only means something while the whole page is ticked.
    if (matching && !everyOnPage) matching.checked = false;
    var allMatching = !!(matching && matching.checked);
    bar.hidden = checked === 0;
    var count = bar.querySelector("[data-selected-count]");
    if (count) {
      count.textContent = allMatching
        ? "All " + Number(form.dataset.matchingTotal).toLocaleString("en-US") + " matching selected"
        : checked + " selected";
    }
    var banner = form.querySelector("[data-select-banner]");
    if (banner) {
      banner.classList.toggle("is-shown", everyOnPage);
      banner.classList.toggle("is-matching", allMatching);
      var text = banner.querySelector("[data-select-matching-text]");
      if (text) {
        text.textContent = allMatching
          ? "Select only the " + boxes.length + " on this page"
          : "Select all " + Number(form.dataset.matchingTotal).toLocaleString("en-US") + " matching";
      }
      var note = banner.querySelector("[data-select-page-note]");
      if (note) {
        note.textContent = allMatching
          ? "All " + Number(form.dataset.matchingTotal).toLocaleString("en-US") + " campaigns matching these filters are selected."
          : "All " + boxes.length + " on this page are selected.";
      }
    }
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = everyOnPage;
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
      // With this script the "select all matching" box reads as a link that toggles.
      bulk.classList.add("has-select-script");
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

    document.querySelectorAll("[data-filter-form]").forEach(initFilterForm);
  });

  // Narrow the picker's list of labels as the user types.
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
    if (target.matches("[data-picker-filter]")) {
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

  // ---------------------------------------------------------------------------------------------
  // All Campaigns: the filter form, its drawer, the type-aheads and their chips. Without this the
  // drawer still opens (it is a <details>) and applies (a GET form); plain inputs replace the
  // type-aheads.
  // ---------------------------------------------------------------------------------------------
  function initFilterForm(form) {
    form.addEventListener("submit", function (event) {
      // Only the parameters that say something: the URL stays short enough to read and bookmark.
      event.preventDefault();
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (typeof value === "string" && value.trim() !== "") params.append(key, value.trim());
      });
      var query = params.toString();
      window.location.assign((form.getAttribute("action") || window.location.pathname) + (query ? "?" + query : ""));
    });
    form.addEventListener("change", function (event) {
      if (event.target.matches("[data-autosubmit]")) form.requestSubmit();
      var chip = event.target.closest(".pick-chip");
      if (chip && !event.target.checked) removeChip(chip);
    });
    var drawer = form.querySelector("[data-filter-drawer]");
    if (drawer) {
      drawer.addEventListener("toggle", function () {
        if (!drawer.open) return;
        var first = drawer.querySelector(".drawer-body input:not([type=hidden])");
        if (first) first.focus({ preventScroll: true });
      });
    }
  }

  function closeDrawer(drawer) {
    drawer.open = false;
    var summary = drawer.querySelector("summary");
    if (summary) summary.focus();
  }

  function removeChip(chip) {
    var list = chip.parentElement;
    chip.remove();
    var typeahead = list && list.parentElement.querySelector("[data-typeahead-input]");
    if (typeahead) focusQuietly(typeahead);
  }

  function addChip(field, value, text) {
    var list = document.querySelector("[data-chips=" + field + "]");
    if (!list) return;
    var exists = Array.prototype.some.call(list.querySelectorAll("input"), function (box) {
      return box.value.toLowerCase() === String(value).toLowerCase();
    });
    if (exists) return;
    var chip = document.createElement("label");
    chip.className = "pick-chip";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = field;
    box.value = value;
    box.checked = true;
    var name = document.createElement("span");
    name.textContent = text;
    var x = document.createElement("span");
    x.className = "pick-x";
    x.setAttribute("aria-hidden", "true");
    x.textContent = "×";
    chip.append(box, name, x);
    list.append(chip);
  }

  function pickOption(button) {
    var typeahead = button.closest("[data-typeahead]");
    addChip(button.getAttribute("data-pick"), button.getAttribute("data-value"), button.getAttribute("data-text"));
    var input = typeahead.querySelector("[data-typeahead-input]");
    typeahead.querySelector("[data-typeahead-options]").innerHTML = "";
    input.value = "";
    focusQuietly(input);
  }

  // Back to the type-ahead for the next pick, without the focus reopening the list just closed.
  function focusQuietly(input) {
    input.dataset.picked = "1";
    input.focus({ preventScroll: true });
    delete input.dataset.picked;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var typeahead = event.detail.target.closest && event.detail.target.closest("[data-typeahead]");
    var input = typeahead && typeahead.querySelector("[data-typeahead-input]");
    if (!input || !input.dataset.pickOnLoad) return;
    var list = event.detail.target.querySelector("[data-for]");
    if (list && list.getAttribute("data-for") !== input.value.trim()) return; // an older answer
    delete input.dataset.pickOnLoad;
    var first = event.detail.target.querySelector("[data-pick]");
    if (first) pickOption(first);
  });

  document.addEventListener("htmx:confirm", function (event) {
    var input = event.detail.elt;
    if (input.matches && input.matches("[data-typeahead-input]") && input.dataset.picked) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest("[data-pick]");
    if (option) {
      event.preventDefault();
      pickOption(option);
      return;
    }
    var closer = event.target.closest("[data-close-drawer]");
    if (closer) {
      event.preventDefault();
      closeDrawer(closer.closest("[data-filter-drawer]"));
      return;
    }
    // A click outside an open type-ahead folds its options away.
    document.querySelectorAll("[data-typeahead]").forEach(function (typeahead) {
      if (!typeahead.contains(event.target)) typeahead.querySelector("[data-typeahead-options]").innerHTML = "";
    });
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-typeahead-input]")) {
      var options = target.closest("[data-typeahead]").querySelector("[data-typeahead-options]");
      var first = options.querySelector("[data-pick]");
      if (event.key === "Enter") {
        // Enter picks the first match; it never submits the type-ahead's own (lookup) form.
        // Typed faster than the list follows, it picks from the list about to come.
        event.preventDefault();
        var list = options.querySelector("[data-for]");
        if (first && list && list.getAttribute("data-for") === target.value.trim()) pickOption(first);
        else if (target.value.trim()) target.dataset.pickOnLoad = "1";
        return;
      }
      if (event.key === "ArrowDown" && first) {
        event.preventDefault();
        first.focus();
        return;
      }
      if (event.key === "Escape" && first) {
        event.preventDefault();
        options.innerHTML = "";
        return;
      }
    }
    if (target.matches && target.matches("[data-pick]") && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      var buttons = Array.prototype.slice.call(target.closest("[data-typeahead-options]").querySelectorAll("[data-pick]"));
      var index = buttons.indexOf(target) + (event.key === "ArrowDown" ? 1 : -1);
      if (index < 0) target.closest("[data-typeahead]").querySelector("[data-typeahead-input]").focus();
      else if (index < buttons.length) buttons[index].focus();
      return;
    }
    if (event.key === "Escape") {
      var open = document.querySelector("[data-filter-drawer][open]");
      if (open && !modal().open) {
        event.preventDefault();
        closeDrawer(open);
      }
    }
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
