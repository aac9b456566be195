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
