/* flask-helpdesk desk: the collision warning. Polls the ticket's presence endpoint and shows who
   else is viewing and whether someone wrote since this page loaded. No framework, no build. */
(function () {
  var box = document.getElementById("hd-presence");
  if (!box || !window.fetch) return;
  var newest = parseInt(box.dataset.newest || "0", 10);
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var lines = [];
        if (data.viewers.length) lines.push(box.dataset.viewingText.replace("__NAMES__", data.viewers.join(", ")));
        if (data.newest_message_id > newest) lines.push(box.dataset.newText);
        box.textContent = lines.join(" ");
        box.hidden = lines.length === 0;
      })
      .catch(function () {});
  }
  setInterval(poll, 20000);
})();

/* Put *text* into the textarea *box* at its cursor (replacing a selection), the cursor after it. */
function hdInsertAtCursor(box, text) {
  var start = box.selectionStart, end = box.selectionEnd, value = box.value;
  if (typeof start !== "number") { start = end = value.length; }
  box.value = value.slice(0, start) + text + value.slice(end);
  box.selectionStart = box.selectionEnd = start + text.length;
  box.focus();
}

/* Canned replies: choosing one inserts its text at the cursor at once. Without this script the
   "Insert" button posts the form and the page returns with the text added (same result). */
(function () {
  var box = document.getElementById("hd-canned");
  var select = document.getElementById("hd-canned-select");
  var body = document.getElementById("hd-reply-body");
  if (!box || !select || !body || !window.fetch) return;
  var insertButton = box.querySelector("button[value=insert]");
  if (insertButton) insertButton.hidden = true;
  select.addEventListener("change", function () {
    if (!select.value) return;
    var url = box.dataset.url.replace(/\/0$/, "/" + encodeURIComponent(select.value));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        hdInsertAtCursor(body, data.text);
        select.value = "";
      })
      .catch(function () { if (insertButton) insertButton.hidden = false; });
  });
})();

/* Help-center articles in the workspace: "Insert link" puts "title: address" at the reply's
   cursor (a space first when it would touch a word); a search refreshes the results in place, so
   the reply being typed stays. Without this script the search reloads the page and the
   addresses are there to copy. */
(function () {
  var picker = document.getElementById("hd-kb-picker");
  var results = document.getElementById("hd-kb-results");
  var body = document.getElementById("hd-reply-body");
  if (!picker || !results || !body) return;
  function wire() {
    results.querySelectorAll(".hd-kb-insert").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var before = body.value.slice(0, typeof body.selectionStart === "number" ? body.selectionStart : body.value.length);
        hdInsertAtCursor(body, (before && !/\s$/.test(before) ? " " : "") + button.dataset.text);
      });
    });
  }
  wire();
  var form = picker.querySelector("form[role=search]");
  if (!form || !window.fetch || !window.DOMParser || !window.URLSearchParams) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("hd-kb-results");
        if (!fresh) { form.submit(); return; }
        results.replaceChildren.apply(results, Array.prototype.map.call(fresh.childNodes, function (node) {
          return document.importNode(node, true);
        }));
        wire();
      })
      .catch(function () { form.submit(); });
  });
})();

/* New ticket for a customer: results appear while typing. Without this script the search form
   is submitted and the page lists the same matches. */
(function () {
  var form = document.getElementById("hd-customer-search");
  var list = document.getElementById("hd-customer-matches");
  if (!form || !list || !window.fetch) return;
  var input = form.querySelector("input[name=customer_q]");
  var timer = null;
  function show(found) {
    list.textContent = "";
    if (!found.length) {
      var empty = document.createElement("li");
      empty.className = "hd-hint";
      empty.textContent = form.dataset.none;
      list.appendChild(empty);
      return;
    }
    found.forEach(function (c) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = form.dataset.pick + "?requester=" + encodeURIComponent(c.key);
      link.textContent = c.name || c.email || c.key;  // text, never HTML
      var small = document.createElement("small");
      small.textContent = " " + [c.email, c.phone].filter(Boolean).join(" ");
      item.appendChild(link);
      item.appendChild(small);
      list.appendChild(item);
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var term = input.value.trim();
    if (term.length < 2) { list.textContent = ""; return; }
    timer = setTimeout(function () {
      fetch(form.dataset.url + "?q=" + encodeURIComponent(term),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) { if (found && input.value.trim() === term) show(found); })
        .catch(function () {});
    }, 250);
  });
})();

/* The queue: the bulk toolbar appears once a ticket is ticked; keys j/k move between tickets,
   Enter opens one, x ticks it. Without this script the toolbar is always there and every
   ticket is a plain link. */
(function () {
  var table = document.getElementById("hd-queue");
  var toolbar = document.getElementById("hd-bulk-toolbar");
  if (!table) return;
  var rows = Array.prototype.slice.call(table.querySelectorAll("tr.hd-queue-row"));
  var boxes = rows.map(function (row) { return row.querySelector("input[name=ticket_ids]"); });
  var all = document.getElementById("hd-select-all");
  var keys = document.getElementById("hd-keys");
  if (keys && rows.length) keys.hidden = false;
  function refresh() {
    var n = boxes.filter(function (b) { return b && b.checked; }).length;
    rows.forEach(function (row, i) { row.classList.toggle("hd-selected", !!(boxes[i] && boxes[i].checked)); });
    if (toolbar) {
      toolbar.hidden = n === 0;
      toolbar.querySelector(".hd-bulk-count").textContent =
        n ? "(" + toolbar.dataset.selectedText.replace("__N__", n) + ")" : "";
    }
    if (all) all.checked = n > 0 && n === boxes.length;
  }
  if (all && boxes.length) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { if (b) b.checked = all.checked; });
      refresh();
    });
  }
  table.addEventListener("change", refresh);
  refresh();
  var current = -1;
  function focusRow(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    var link = rows[current].querySelector("a.hd-code");
    if (link) link.focus();
  }
  rows.forEach(function (row, i) {
    row.addEventListener("focusin", function () { current = i; });
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName) || target.isContentEditable)) return;
    if (event.key === "j") { focusRow(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focusRow(current - 1); event.preventDefault(); }
    else if (event.key === "x" && current >= 0 && boxes[current]) {
      boxes[current].checked = !boxes[current].checked;
      refresh();
      event.preventDefault();
    }
  });
})();

/* The queue's account filter: suggestions from every customer while typing. Without this
   script the typed text is the filter (name, email or phone contains it). */
(function () {
  var input = document.getElementById("hd-account-search");
  var options = document.getElementById("hd-account-options");
  if (!input || !options || !window.fetch) return;
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var term = input.value.trim();
    if (term.length < 2) return;
    timer = setTimeout(function () {
      fetch(input.dataset.url + "&q=" + encodeURIComponent(term),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) {
          if (!found || input.value.trim() !== term) return;
          options.textContent = "";
          found.forEach(function (c) {
            var option = document.createElement("option");
            option.value = c.email || c.name;  // the filter matches either
            option.label = [c.name, c.phone].filter(Boolean).join(" ");
            options.appendChild(option);
          });
        })
        .catch(function () {});
    }, 250);
  });
})();
