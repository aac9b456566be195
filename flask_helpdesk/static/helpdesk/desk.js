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
        var start = body.selectionStart, end = body.selectionEnd, value = body.value;
        if (typeof start !== "number") { start = end = value.length; }
        body.value = value.slice(0, start) + data.text + value.slice(end);
        body.selectionStart = body.selectionEnd = start + data.text.length;
        body.focus();
        select.value = "";
      })
      .catch(function () { if (insertButton) insertButton.hidden = false; });
  });
})();
