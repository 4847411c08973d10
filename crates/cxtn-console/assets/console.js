// The console's little script: the copy button and live arrivals. No inline script, no framework.
"use strict";

(function () {
  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) { return; }
        var text = source.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
        } else {
          selectText(source);
        }
      });
    });
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function cell(className, text) {
    var td = document.createElement("td");
    td.className = className;
    td.textContent = text;
    return td;
  }

  // Builds the same markup as the server's rows, from text only (never HTML).
  function row(base, event) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-event-id", event.id);
    tr.className = "live";
    var id = document.createElement("td");
    id.className = "id";
    var link = document.createElement("a");
    link.href = base + "events/" + event.href;
    link.textContent = event.shown_id;
    id.appendChild(link);
    tr.appendChild(id);
    tr.appendChild(cell("event", event.event));
    tr.appendChild(cell("subscription", event.subscription));
    tr.appendChild(cell("status status-" + event.status, event.status));
    tr.appendChild(cell("received", event.received));
    tr.appendChild(cell("attempts", String(event.attempts)));
    tr.appendChild(cell("deliveries", String(event.deliveries)));
    return tr;
  }

  function live() {
    var url = document.body.getAttribute("data-live");
    var table = document.getElementById("events");
    if (!url || !table || !window.EventSource) { return; }
    var base = document.body.getAttribute("data-base") || "/";
    var body = table.tBodies[0];
    var source = new EventSource(url);
    source.addEventListener("arrival", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (body.querySelector('tr[data-event-id="' + CSS.escape(event.id) + '"]')) { return; }
      body.insertBefore(row(base, event), body.firstChild);
      table.classList.remove("is-empty");
      var empty = document.getElementById("no-events");
      if (empty) { empty.remove(); }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function ready() {
    copyButtons();
    live();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
