/* flask-helpdesk portal: articles that may answer a request, suggested while its subject is
   typed. Debounced; the list is the page's own (rendered by the server too, so the "Find
   answers" button works without this script). No framework, no build. */
(function () {
  var box = document.getElementById("hd-suggestions");
  var subject = document.getElementById("subject");
  if (!box || !subject || !window.fetch) return;
  var list = box.querySelector("ul");
  var timer = null;
  var asked = "";
  function show(items) {
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.target = "_blank";  // the request being written stays as it is
      a.rel = "noopener";
      a.textContent = item.title;
      li.appendChild(a);
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
  }
  function ask() {
    var text = subject.value.trim();
    if (text === asked) return;
    asked = text;
    if (text.length < 3) { show([]); return; }
    fetch(box.dataset.url + "?q=" + encodeURIComponent(text), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (text === asked) show(items); })
      .catch(function () {});
  }
  subject.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 300);
  });
})();
