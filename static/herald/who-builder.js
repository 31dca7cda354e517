// The Who builder: a form over a Who's JSON, as progressive enhancement of its textarea.
//
// Each textarea marked data-who-builder="<id of a json_script with {labels, segments}>" gets a
// builder above it when its JSON parses and has a shape the builder knows. The textarea stays in
// the form and stays the source of truth: every change in the builder rewrites it (pretty-printed)
// and fires `input` and `change` on it, so the live estimate follows; the server validates it as
// before. "Edit as JSON" shows or hides the textarea; typing there redraws the builder, or shows a
// note when the builder cannot show what was typed.
(function () {
  "use strict";

  const PROPERTY_OPS = [
    ["eq", "is"],
    ["neq", "is not"],
    ["in", "is one of"],
    ["not_in", "is none of"],
    ["contains", "contains"],
    ["not_contains", "does not contain"],
    ["gt", "is greater than"],
    ["gte", "is at least"],
    ["lt", "is less than"],
    ["lte", "is at most"],
    ["between", "is between"],
    ["exists", "is set"],
    ["not_exists", "is not set"],
    ["within_days", "is within days"],
  ];
  const OP_NAMES = PROPERTY_OPS.map((pair) => pair[0]);
  const LIST_OPS = ["in", "not_in"];
  const NO_VALUE_OPS = ["exists", "not_exists"];
  const COUNT_OPS = [
    ["", "any number of times"],
    ["gte", "at least"],
    ["lte", "at most"],
    ["eq", "exactly"],
  ];
  const TYPES = [
    ["property", "Property"],
    ["event", "Did event"],
    ["label_sent", "Was sent label"],
    ["campaign_sent", "Was sent campaign"],
    ["segment", "In segment"],
    ["group", "Group"],
  ];
  const MAX_DEPTH = 5;
  const NOTE = "The builder cannot show this audience; edit it as JSON";

  // ---------------------------------------------------------------------------------------------
  // Shapes the builder knows: the Who schema, with windows limited to {last_days}.
  // ---------------------------------------------------------------------------------------------
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const isScalar = (v) => ["string", "number", "boolean"].includes(typeof v);
  const isCount = (v) => Number.isInteger(v);
  const onlyKeys = (node, keys) => Object.keys(node).every((k) => keys.includes(k));

  function knownWindow(w) {
    return w === undefined || (isObject(w) && onlyKeys(w, ["last_days"]) && isCount(w.last_days));
  }

  function knownProperty(node) {
    if (!onlyKeys(node, ["type", "property", "op", "value"])) return false;
    if (typeof node.property !== "string" || !OP_NAMES.includes(node.op)) return false;
    const v = node.value;
    if (NO_VALUE_OPS.includes(node.op)) return v === undefined;
    if (LIST_OPS.includes(node.op)) return Array.isArray(v) && v.every(isScalar);
    if (node.op === "between") return Array.isArray(v) && v.length === 2 && v.every(isScalar);
    return v === undefined || isScalar(v);
  }

  function known(node, depth) {
    if (!isObject(node)) return false;
    switch (node.type) {
      case "group":
        return (
          depth <= MAX_DEPTH &&
          onlyKeys(node, ["type", "match", "negate", "conditions"]) &&
          (node.match === "all" || node.match === "any") &&
          (node.negate === undefined || typeof node.negate === "boolean") &&
          Array.isArray(node.conditions) &&
          node.conditions.every((child) => known(child, depth + 1))
        );
      case "property":
        return knownProperty(node);
      case "event":
        return (
          onlyKeys(node, ["type", "event", "did", "count", "window", "filters"]) &&
          typeof node.event === "string" &&
          (node.did === undefined || typeof node.did === "boolean") &&
          (node.count === undefined ||
            (isObject(node.count) &&
              onlyKeys(node.count, ["op", "value"]) &&
              ["gte", "lte", "eq"].includes(node.count.op) &&
              isCount(node.count.value))) &&
          knownWindow(node.window) &&
          // Filters are kept as they are (edited as JSON): only their list is checked here.
          (node.filters === undefined || Array.isArray(node.filters))
        );
      case "label_sent":
        return onlyKeys(node, ["type", "label_id", "window"]) && isCount(node.label_id) && knownWindow(node.window);
      case "campaign_sent":
        return onlyKeys(node, ["type", "campaign_id", "window"]) && isCount(node.campaign_id) && knownWindow(node.window);
      case "segment":
        return onlyKeys(node, ["type", "segment_id"]) && isCount(node.segment_id);
      default:
        return false;
    }
  }

  // "true"/"false" are booleans and numbers are numbers; anything else is text.
  function typed(text) {
    const t = text.trim();
    if (t === "true") return true;
    if (t === "false") return false;
    if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(t)) return Number(t);
    return t;
  }
  const shown = (v) => (v === undefined || v === null ? "" : String(v));
  const listed = (text) => text.split(",").map((part) => part.trim()).filter((part) => part !== "").map(typed);

  function freshNode(type, options) {
    switch (type) {
      case "group":
        return { type: "group", match: "all", conditions: [] };
      case "event":
        return { type: "event", event: "", window: { last_days: 30 } };
      case "label_sent": {
        const first = options.labels[0];
        return first ? { type: "label_sent", label_id: first.id, window: { last_days: 7 } } : { type: "label_sent", window: { last_days: 7 } };
      }
      case "campaign_sent":
        return { type: "campaign_sent", window: { last_days: 30 } };
      case "segment": {
        const first = options.segments[0];
        return first ? { type: "segment", segment_id: first.id } : { type: "segment" };
      }
      default:
        return { type: "property", property: "", op: "eq", value: "" };
    }
  }

  // A property's value, reshaped for a new operator.
  function reshapeValue(node, op) {
    const before = node.value;
    const items = Array.isArray(before) ? before : before === undefined || before === "" ? [] : [before];
    if (NO_VALUE_OPS.includes(op)) delete node.value;
    else if (LIST_OPS.includes(op)) node.value = items;
    else if (op === "between") node.value = [items[0] ?? "", items[1] ?? ""];
    else node.value = items.length ? items[0] : "";
    node.op = op;
  }

  // ---------------------------------------------------------------------------------------------
  // One builder per textarea.
  // ---------------------------------------------------------------------------------------------
  let counter = 0;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, value);
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function setUp(textarea) {
    let options = { labels: [], segments: [] };
    const source = document.getElementById(textarea.dataset.whoBuilder);
    if (source) {
      try {
        options = Object.assign(options, JSON.parse(source.textContent) || {});
      } catch (e) {
        /* no options: the selects then offer only the ids already in the Who */
      }
    }
    const base = (textarea.id || "who") + "-wb";
    const wrap = el("div", { className: "who-builder-wrap" });
    const builder = el("div", { className: "who-builder", "data-who-builder-root": true });
    const note = el("p", { className: "who-builder-note muted", role: "note", "data-who-builder-note": true, text: NOTE });
    const toggle = el("button", {
      type: "button",
      className: "secondary outline who-builder-toggle",
      "aria-controls": textarea.id,
      "aria-expanded": "false",
      text: "Edit as JSON",
    });
    wrap.append(builder, note, toggle);
    textarea.before(wrap);

    let who = null;
    let writing = false;
    let jsonShown = false;

    function showJson(show) {
      jsonShown = show;
      textarea.hidden = !show;
      toggle.setAttribute("aria-expanded", String(show));
    }

    function write() {
      writing = true;
      textarea.value = JSON.stringify(who, null, 2);
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      textarea.dispatchEvent(new Event("change", { bubbles: true }));
      writing = false;
    }

    // Reads the textarea: the builder when its JSON is a shape it knows, else the note.
    function read() {
      let parsed;
      let ok = true;
      try {
        parsed = JSON.parse(textarea.value);
      } catch (e) {
        ok = false;
      }
      ok = ok && known(parsed, 1) && parsed.type === "group";
      who = ok ? parsed : null;
      builder.hidden = !ok;
      note.hidden = ok;
      toggle.hidden = !ok;
      if (!ok) showJson(true);
      if (ok) render();
      else builder.replaceChildren();
      return ok;
    }

    // Redraws the builder, keeping focus on the same control when it is still there.
    function render() {
      const active = document.activeElement;
      const key = active && builder.contains(active) ? active.dataset.key : null;
      builder.replaceChildren(groupBox(who, 1, "0"));
      if (key) {
        const again = builder.querySelector('[data-key="' + key + '"]');
        if (again) again.focus();
      }
    }

    function changed(structural) {
      write();
      if (structural) render();
    }

    function labelled(control, text, key, visible) {
      const id = base + "-" + ++counter;
      control.id = id;
      control.dataset.key = key;
      const label = el("label", { for: id, className: visible ? "who-builder-label" : "visually-hidden", text: text });
      return [label, control];
    }

    function select(choices, value) {
      const s = el("select");
      for (const [v, text] of choices) {
        const option = el("option", { value: String(v), text: text });
        if (String(v) === String(value ?? "")) option.selected = true;
        s.append(option);
      }
      return s;
    }

    function windowInputs(node, key) {
      const input = el("input", {
        type: "number",
        min: "1",
        max: "3650",
        step: "1",
        inputmode: "numeric",
        className: "who-builder-days",
        value: node.window ? shown(node.window.last_days) : "",
        placeholder: "any time",
      });
      input.addEventListener("input", () => {
        const n = typed(input.value);
        if (input.value.trim() === "") delete node.window;
        else node.window = { last_days: typeof n === "number" ? n : input.value.trim() };
        changed(false);
      });
      const [label, control] = labelled(input, "In the last (days)", key + "-days", true);
      return [label, control, el("span", { className: "muted", text: "days" })];
    }

    function idSelect(node, field, choices, key, text) {
      const rows = choices.map((c) => [c.id, c.name]);
      if (node[field] !== undefined && !choices.some((c) => c.id === node[field])) {
        rows.unshift([node[field], "#" + node[field]]);
      }
      if (!rows.length) {
        const input = el("input", { type: "number", min: "1", step: "1", value: shown(node[field]) });
        input.addEventListener("input", () => {
          const n = typed(input.value);
          if (input.value.trim() === "") delete node[field];
          else node[field] = n;
          changed(false);
        });
        return labelled(input, text, key, false);
      }
      const s = select(rows, node[field]);
      s.addEventListener("change", () => {
        node[field] = Number(s.value);
        changed(false);
      });
      return labelled(s, text, key, false);
    }

    function textInput(value, onInput) {
      const input = el("input", { type: "text", value: value, autocomplete: "off" });
      input.addEventListener("input", () => onInput(input.value));
      return input;
    }

    function propertyFields(node, key) {
      const out = [];
      out.push(
        ...labelled(
          textInput(node.property, (v) => {
            node.property = v.trim();
            changed(false);
          }),
          "Property",
          key + "-property",
          false,
        ),
      );
      out[out.length - 1].placeholder = "property, e.g. plan";
      const op = select(PROPERTY_OPS, node.op);
      op.addEventListener("change", () => {
        reshapeValue(node, op.value);
        changed(true);
      });
      out.push(...labelled(op, "Operator", key + "-op", false));
      if (LIST_OPS.includes(node.op)) {
        const input = textInput((node.value || []).map(shown).join(", "), (v) => {
          node.value = listed(v);
          changed(false);
        });
        input.placeholder = "values, comma-separated";
        out.push(...labelled(input, "Values (comma-separated)", key + "-value", false));
      } else if (node.op === "between") {
        [0, 1].forEach((i) => {
          const input = textInput(shown(node.value[i]), (v) => {
            node.value[i] = typed(v);
            changed(false);
          });
          input.placeholder = i ? "to" : "from";
          out.push(...labelled(input, i ? "To value" : "From value", key + "-value" + i, false));
          if (!i) out.push(el("span", { className: "muted", text: "and" }));
        });
      } else if (!NO_VALUE_OPS.includes(node.op)) {
        const input = textInput(shown(node.value), (v) => {
          node.value = typed(v);
          changed(false);
        });
        input.placeholder = node.op === "within_days" ? "days" : "value";
        out.push(...labelled(input, "Value", key + "-value", false));
      }
      return out;
    }

    function eventFields(node, key) {
      const out = [];
      const did = select(
        [
          ["true", "did"],
          ["false", "did not do"],
        ],
        node.did === false ? "false" : "true",
      );
      did.addEventListener("change", () => {
        if (did.value === "false") node.did = false;
        else delete node.did;
        changed(false);
      });
      out.push(...labelled(did, "Did or did not", key + "-did", false));
      const event = textInput(node.event, (v) => {
        node.event = v.trim();
        changed(false);
      });
      event.placeholder = "event, e.g. Charged";
      out.push(...labelled(event, "Event", key + "-event", false));
      const countOp = select(COUNT_OPS, node.count ? node.count.op : "");
      countOp.addEventListener("change", () => {
        if (!countOp.value) delete node.count;
        else node.count = { op: countOp.value, value: node.count ? node.count.value : 1 };
        changed(true);
      });
      out.push(...labelled(countOp, "How many times", key + "-count-op", false));
      if (node.count) {
        const times = el("input", { type: "number", min: "0", step: "1", className: "who-builder-days", value: shown(node.count.value) });
        times.addEventListener("input", () => {
          const n = typed(times.value);
          node.count.value = typeof n === "number" ? n : times.value.trim();
          changed(false);
        });
        out.push(...labelled(times, "Times", key + "-count-value", false), el("span", { className: "muted", text: "times" }));
      }
      out.push(...windowInputs(node, key));
      if (node.filters && node.filters.length) {
        const n = node.filters.length;
        out.push(el("small", { className: "muted who-builder-kept", text: "with " + n + " filter" + (n === 1 ? "" : "s") + " (edit them as JSON)" }));
      }
      return out;
    }

    function conditionRow(node, parent, index, depth, key) {
      const row = el("li", { className: "who-builder-row", "data-who-type": node.type });
      const kind = select(
        TYPES.filter(([t]) => t !== "group" || depth < MAX_DEPTH || node.type === "group"),
        node.type,
      );
      kind.addEventListener("change", () => {
        parent.conditions[index] = freshNode(kind.value, options);
        changed(true);
      });
      const fields = el("div", { className: "who-builder-fields" }, labelled(kind, "Condition type", key + "-type", false));
      if (node.type === "property") fields.append(...propertyFields(node, key));
      else if (node.type === "event") fields.append(...eventFields(node, key));
      else if (node.type === "label_sent") fields.append(...idSelect(node, "label_id", options.labels, key + "-label", "Label"), ...windowInputs(node, key));
      else if (node.type === "campaign_sent") {
        const input = el("input", { type: "number", min: "1", step: "1", value: shown(node.campaign_id), placeholder: "id" });
        input.addEventListener("input", () => {
          if (input.value.trim() === "") delete node.campaign_id;
          else node.campaign_id = typed(input.value);
          changed(false);
        });
        fields.append(...labelled(input, "Campaign id", key + "-campaign", false), ...windowInputs(node, key));
      } else if (node.type === "segment") fields.append(...idSelect(node, "segment_id", options.segments, key + "-segment", "Segment"));
      const remove = el("button", { type: "button", className: "secondary outline who-builder-remove", "data-key": key + "-remove" }, [
        document.createTextNode("Remove"),
        el("span", { className: "visually-hidden", text: " condition " + (index + 1) }),
      ]);
      remove.addEventListener("click", () => {
        parent.conditions.splice(index, 1);
        changed(true);
        const add = builder.querySelector('[data-key="' + key.replace(/-\d+$/, "") + '-add"]');
        if (add) add.focus();
      });
      if (node.type === "group") {
        row.append(el("div", { className: "who-builder-fields" }, [fields.firstChild, fields.lastChild, remove]));
        row.append(groupBox(node, depth + 1, key));
      } else {
        fields.append(remove);
        row.append(fields);
      }
      return row;
    }

    function groupBox(group, depth, key) {
      const box = el("fieldset", { className: "who-builder-group", "data-depth": String(depth) });
      const legendText = depth === 1 ? "Audience" : "Group, level " + depth;
      box.append(el("legend", { className: "visually-hidden", text: legendText }));
      const match = select(
        [
          ["all", "all"],
          ["any", "any"],
        ],
        group.match,
      );
      match.addEventListener("change", () => {
        group.match = match.value;
        changed(false);
      });
      const negate = el("input", { type: "checkbox", role: "switch" });
      negate.checked = group.negate === true;
      negate.addEventListener("change", () => {
        if (negate.checked) group.negate = true;
        else delete group.negate;
        changed(false);
      });
      const head = el("div", { className: "who-builder-head" });
      const [negateLabel, negateBox] = labelled(negate, "Not (leave these people out)", key + "-negate", true);
      negateLabel.prepend(negateBox);
      const [matchLabel, matchSelect] = labelled(match, "Match", key + "-match", true);
      head.append(negateLabel, matchLabel, matchSelect, el("span", { text: "of these conditions" }));
      box.append(head);
      const list = el("ol", { className: "who-builder-list" });
      group.conditions.forEach((child, i) => list.append(conditionRow(child, group, i, depth, key + "-" + i)));
      if (!group.conditions.length) {
        box.append(el("p", { className: "muted who-builder-empty", text: depth === 1 ? "No conditions: everyone." : "No conditions yet." }));
      }
      box.append(list);
      const actions = el("div", { className: "who-builder-actions" });
      const add = el("button", { type: "button", className: "secondary outline", "data-key": key + "-add", text: "Add condition" });
      add.addEventListener("click", () => {
        group.conditions.push(freshNode("property", options));
        changed(true);
        const added = builder.querySelector('[data-key="' + key + "-" + (group.conditions.length - 1) + '-type"]');
        if (added) added.focus();
      });
      actions.append(add);
      if (depth < MAX_DEPTH) {
        const addGroup = el("button", { type: "button", className: "secondary outline", "data-key": key + "-add-group", text: "Add group" });
        addGroup.addEventListener("click", () => {
          group.conditions.push(freshNode("group", options));
          changed(true);
          const added = builder.querySelector('[data-key="' + key + "-" + (group.conditions.length - 1) + '-match"]');
          if (added) added.focus();
        });
        actions.append(addGroup);
      }
      box.append(actions);
      return box;
    }

    toggle.addEventListener("click", () => showJson(!jsonShown));
    textarea.addEventListener("input", () => {
      if (!writing) read();
    });

    if (read()) showJson(false);
    textarea.closest("form")?.classList.add("has-who-builder");
  }

  function init() {
    document.querySelectorAll("textarea[data-who-builder]").forEach((textarea) => {
      if (textarea.dataset.whoBuilderReady) return;
      textarea.dataset.whoBuilderReady = "1";
      setUp(textarea);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
