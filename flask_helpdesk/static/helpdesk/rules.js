/* flask-helpdesk rule form: a builder over the conditions and actions text areas. Rows of
   field / operator / value in "all / any / none of these" groups, and ordered actions, written
   as the JSON the server validates into the two text areas on every change. The server stays
   the only judge: without this script, or for JSON the builder cannot show, the text areas are
   edited as they are. No framework, no build. */
(function () {
  "use strict";
  var schemaNode = document.getElementById("hd-rule-schema");
  var conditionsArea = document.getElementById("conditions");
  var actionsArea = document.getElementById("actions");
  if (!schemaNode || !conditionsArea || !actionsArea || !window.JSON) return;
  var S = JSON.parse(schemaNode.textContent);
  var T = S.text;
  var fields = {};
  S.fields.forEach(function (f) { fields[f.name] = f; });
  var actionKinds = {};
  S.actions.forEach(function (a) { actionKinds[a.type] = a; });
  var UNARY = { is_set: 1, is_not_set: 1 };
  var LISTS = { "in": 1, not_in: 1 };
  var counter = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function uid(prefix) { counter += 1; return "hd-rb-" + prefix + "-" + counter; }
  // A control with its own visible label (axe: every control is named).
  function labelled(text, control, extra) {
    control.id = control.id || uid("c");
    return el("span", { className: "hd-rb-part" + (extra ? " " + extra : "") }, [
      el("label", { "for": control.id, className: "hd-rb-label", text: text }), control]);
  }
  function select(options, value, multiple) {
    var node = el("select", { className: "hd-input" });
    if (multiple) node.multiple = true;
    options.forEach(function (o) {
      var option = el("option", { value: String(o[0]), text: o[1] });
      var values = multiple ? (value || []).map(String) : [String(value)];
      if (values.indexOf(String(o[0])) >= 0) option.selected = true;
      node.appendChild(option);
    });
    return node;
  }
  function button(text, onClick, label) {
    var node = el("button", { type: "button", className: "hd-button hd-rb-button", text: text });
    if (label) node.setAttribute("aria-label", label);
    node.addEventListener("click", onClick);
    return node;
  }
  function parseJSON(text, empty) {
    if (!text.trim()) return empty;
    try { return JSON.parse(text); } catch (e) { return undefined; }
  }

  // -- the model: read from the JSON, or undefined when the builder cannot show it ----------
  function fieldOf(name) {
    if (typeof name !== "string") return null;
    if (name.indexOf("customer.") === 0) return fields["customer."];
    return fields[name] || null;
  }
  function readTest(node) {
    var keys = Object.keys(node);
    if (!fieldOf(node.field) || typeof node.op !== "string") return undefined;
    if (keys.some(function (k) { return ["field", "op", "value"].indexOf(k) < 0; })) return undefined;
    return { kind: "test", field: node.field, op: node.op, value: node.value };
  }
  // A group is "all", "any" or "none" (= not any) of its items. Every tree the server accepts
  // reads into groups: {"not": X} for any other X (a test, an "all" group, another "not") is a
  // "none" group holding X alone, and a lone test at the top an "all" group holding it; such a
  // group is marked compact, so that while it holds one item it is written back in the shape
  // it was read in (JSON -> builder -> JSON gives the same JSON).
  function readGroup(node, top) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return undefined;
    var keys = Object.keys(node);
    if (!keys.length) return top ? { kind: "group", mode: "all", items: [] } : undefined;
    if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any")) {
      if (!Array.isArray(node[keys[0]]) || !node[keys[0]].length) return undefined;
      var items = node[keys[0]].map(readItem);
      if (items.some(function (i) { return i === undefined; })) return undefined;
      return { kind: "group", mode: keys[0], items: items };
    }
    if (keys.length === 1 && keys[0] === "not") {
      var inner = node.not;
      if (inner && typeof inner === "object" && Object.keys(inner).length === 1 && Array.isArray(inner.any)) {
        var group = readGroup(inner, false);
        if (group) group.mode = "none";
        return group;
      }
      var only = readItem(inner);
      return only ? { kind: "group", mode: "none", items: [only], compact: true } : undefined;
    }
    var test = top ? readTest(node) : undefined;
    return test ? { kind: "group", mode: "all", items: [test], compact: true } : undefined;
  }
  function readItem(node) {
    if (node && typeof node === "object" && "field" in node) return readTest(node);
    return readGroup(node, false);
  }
  function writeGroup(group, top) {
    var items = group.items.map(function (i) {
      return i.kind === "group" ? writeGroup(i, false) : writeTest(i);
    }).filter(function (i) { return i !== null; });
    if (!items.length) return top ? {} : null;
    if (group.compact && items.length === 1) {
      if (group.mode === "none") return { not: items[0] };
      if (group.mode === "all" && top) return items[0];
    }
    if (group.mode === "none") return { not: { any: items } };
    var out = {};
    out[group.mode] = items;
    return out;
  }
  function writeTest(test) {
    var out = { field: test.field, op: test.op };
    if (!UNARY[test.op]) out.value = test.value === undefined ? "" : test.value;
    return out;
  }
  function readActions(list) {
    if (!Array.isArray(list)) return undefined;
    var ok = list.every(function (a) { return a && typeof a === "object" && actionKinds[a.type]; });
    return ok ? list.map(function (a) { return { type: a.type, value: a.value }; }) : undefined;
  }

  var tree = readGroup(parseJSON(conditionsArea.value, {}), true);
  var actions = readActions(parseJSON(actionsArea.value, []));
  if (tree === undefined || actions === undefined) return; // the text areas stay as they are

  function save() {
    conditionsArea.value = JSON.stringify(writeGroup(tree, true), null, 2);
    actionsArea.value = JSON.stringify(actions.map(function (a) {
      var kind = actionKinds[a.type].value[0];
      return kind === "none" ? { type: a.type } : { type: a.type, value: a.value };
    }), null, 2);
  }

  // -- conditions ---------------------------------------------------------------------------
  function valueControl(test, rerender) {
    var spec = fieldOf(test.field);
    if (UNARY[test.op]) return null;
    var list = LISTS[test.op];
    var control;
    if (spec.values && spec.values.length) {
      if (list) {
        control = select(spec.values, Array.isArray(test.value) ? test.value : [], true);
        control.addEventListener("change", function () {
          test.value = Array.prototype.filter.call(control.options, function (o) { return o.selected; })
            .map(function (o) { return spec.kind === "id" ? Number(o.value) : o.value; });
          save();
        });
      } else {
        if (test.value === undefined || test.value === "") test.value = spec.values[0][0];
        control = select(spec.values, test.value, false);
        control.addEventListener("change", function () {
          test.value = spec.kind === "id" ? Number(control.value) : control.value;
          save();
        });
      }
      return labelled(T.value, control);
    }
    var numeric = spec.kind === "attr" && (test.op === "less_than" || test.op === "greater_than");
    control = el("input", { className: "hd-input", type: numeric ? "number" : "text", dir: "auto" });
    control.value = Array.isArray(test.value) ? test.value.join(", ") : (test.value === undefined ? "" : String(test.value));
    if (list) control.setAttribute("title", T.list_hint);
    if (spec.kind === "time") control.setAttribute("placeholder", "-3d");
    control.addEventListener("input", function () {
      var raw = control.value;
      if (list) test.value = raw.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
      else if (numeric) test.value = raw === "" ? "" : Number(raw);
      else test.value = raw;
      save();
    });
    return labelled(T.value, control);
  }

  function testRow(test, parent, rerender) {
    var spec = fieldOf(test.field);
    var fieldSelect = select(S.fields.map(function (f) { return [f.name, f.label]; }), spec.name, false);
    fieldSelect.addEventListener("change", function () {
      var next = fields[fieldSelect.value];
      test.field = next.name === "customer." ? "customer.plan" : next.name;
      if (next.ops.indexOf(test.op) < 0) test.op = next.ops[0];
      test.value = undefined;
      save(); rerender();
    });
    var opSelect = select(spec.ops.map(function (o) { return [o, S.operators[o]]; }), test.op, false);
    opSelect.addEventListener("change", function () {
      var wasList = !!LISTS[test.op];
      test.op = opSelect.value;
      if (wasList !== !!LISTS[test.op]) test.value = undefined;
      save(); rerender();
    });
    var parts = [labelled(T.field, fieldSelect)];
    if (spec.name === "customer.") {
      var attribute = el("input", { className: "hd-input", type: "text", dir: "ltr" });
      attribute.value = test.field.slice("customer.".length);
      attribute.addEventListener("input", function () { test.field = "customer." + attribute.value.trim(); save(); });
      parts.push(labelled(T.attribute, attribute));
    }
    parts.push(labelled(T.operator, opSelect));
    parts.push(valueControl(test, rerender));
    parts.push(button("×", function () {
      parent.items.splice(parent.items.indexOf(test), 1);
      save(); rerender();
    }, T.remove));
    return el("li", { className: "hd-rb-row" }, parts);
  }

  function groupBox(group, parent, rerender) {
    var mode = select([["all", T.all], ["any", T.any], ["none", T.none]], group.mode, false);
    mode.addEventListener("change", function () { group.mode = mode.value; save(); });
    var list = el("ul", { className: "hd-rb-list" });
    group.items.forEach(function (item) {
      list.appendChild(item.kind === "group" ? el("li", {}, [groupBox(item, group, rerender)]) : testRow(item, group, rerender));
    });
    if (!group.items.length && !parent) list.appendChild(el("li", { className: "hd-hint", text: T.every_ticket }));
    var tools = [
      button(T.add_condition, function () {
        var first = S.fields[0];
        group.items.push({ kind: "test", field: first.name, op: first.ops[0], value: undefined });
        save(); rerender();
      }),
      button(T.add_group, function () {
        group.items.push({ kind: "group", mode: "any", items: [] });
        save(); rerender();
      })
    ];
    if (parent) {
      tools.push(button(T.remove, function () {
        parent.items.splice(parent.items.indexOf(group), 1);
        save(); rerender();
      }));
    }
    return el("fieldset", { className: "hd-rb-group" }, [
      el("legend", { className: "hd-rb-legend" }, [labelled(T.group, mode)]),
      list,
      el("p", { className: "hd-rb-tools" }, tools)
    ]);
  }

  // -- actions ------------------------------------------------------------------------------
  function actionValue(action) {
    var spec = actionKinds[action.type].value;
    var kind = spec[0], options = spec[1];
    var control;
    if (kind === "none") return null;
    if (kind === "choice" || kind === "id") {
      if (!options.length) return null;
      var current = action.value === undefined || action.value === null ? options[0][0] : action.value;
      action.value = kind === "id" ? Number(current) : (/^\d+$/.test(String(current)) ? Number(current) : current);
      control = select(options, current, false);
      control.addEventListener("change", function () {
        action.value = /^\d+$/.test(control.value) ? Number(control.value) : control.value;
        save();
      });
      return labelled(T.value, control);
    }
    if (kind === "tags") {
      control = el("input", { className: "hd-input", type: "text", dir: "auto", title: T.list_hint });
      control.value = Array.isArray(action.value) ? action.value.join(", ") : (action.value || "");
      action.value = control.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
      control.addEventListener("input", function () {
        action.value = control.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
        save();
      });
      return labelled(T.value, control);
    }
    if (kind === "text") {
      control = el("textarea", { className: "hd-input", rows: "2", dir: "auto" });
      control.value = typeof action.value === "string" ? action.value : "";
      action.value = control.value;
      control.addEventListener("input", function () { action.value = control.value; save(); });
      return labelled(T.message, control);
    }
    // notify: a department and/or agents, and a message
    var value = action.value && typeof action.value === "object" ? action.value : {};
    action.value = { agents: value.agents || [], department: value.department || null, text: value.text || "" };
    var department = select([["", "—"]].concat(options), action.value.department || "", false);
    department.addEventListener("change", function () {
      action.value.department = department.value ? Number(department.value) : null; save();
    });
    var agents = select(S.agents, action.value.agents, true);
    agents.addEventListener("change", function () {
      action.value.agents = Array.prototype.filter.call(agents.options, function (o) { return o.selected; })
        .map(function (o) { return Number(o.value); });
      save();
    });
    var text = el("input", { className: "hd-input", type: "text", dir: "auto" });
    text.value = action.value.text;
    text.addEventListener("input", function () { action.value.text = text.value; save(); });
    return el("span", { className: "hd-rb-notify" }, [
      labelled(T.department, department), labelled(T.agents, agents), labelled(T.message, text)]);
  }

  function actionRow(action, index, rerender) {
    var type = select(S.actions.map(function (a) { return [a.type, a.label]; }), action.type, false);
    type.addEventListener("change", function () {
      action.type = type.value; action.value = undefined; save(); rerender();
    });
    function move(offset) {
      return function () {
        var to = index + offset;
        if (to < 0 || to >= actions.length) return;
        actions.splice(to, 0, actions.splice(index, 1)[0]);
        save(); rerender();
      };
    }
    return el("li", { className: "hd-rb-row" }, [
      labelled(T.action, type),
      actionValue(action),
      button("↑", move(-1), T.up),
      button("↓", move(1), T.down),
      button("×", function () { actions.splice(index, 1); save(); rerender(); }, T.remove)
    ]);
  }

  // -- mounting: the builder above each text area, which is hidden (its errors stay shown) ----
  function mount(area, render) {
    var wrapper = area.closest(".hd-field") || area.parentNode;
    var box = el("div", { className: "hd-rule-builder" });
    var hidden = [area].concat(Array.prototype.slice.call(wrapper.querySelectorAll(".hd-hint")));
    var label = wrapper.querySelector("label[for='" + area.id + "']");
    var heading = el("p", { className: "hd-label", text: label ? label.textContent.replace(/\s*\(JSON\)\s*$/, "") : "" });
    var toJson = button(T.edit_json, function () {
      box.remove(); heading.remove(); toJson.remove();
      hidden.forEach(function (n) { n.hidden = false; });
      if (label) label.hidden = false;
    });
    hidden.forEach(function (n) { n.hidden = true; });
    if (label) label.hidden = true;
    wrapper.insertBefore(heading, wrapper.firstChild);
    wrapper.insertBefore(box, heading.nextSibling);
    wrapper.insertBefore(toJson, box.nextSibling);
    function rerender() { box.textContent = ""; box.appendChild(render(rerender)); }
    rerender();
  }

  mount(conditionsArea, function (rerender) { return groupBox(tree, null, rerender); });
  mount(actionsArea, function (rerender) {
    var list = el("ol", { className: "hd-rb-list" });
    actions.forEach(function (a, i) { list.appendChild(actionRow(a, i, rerender)); });
    return el("div", {}, [list, el("p", { className: "hd-rb-tools" }, [
      button(T.add_action, function () {
        actions.push({ type: S.actions[0].type, value: undefined });
        save(); rerender();
      })
    ])]);
  });
  save();
})();
