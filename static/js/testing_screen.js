/* The big calling screen: polls the session's small JSON page and updates the numbers in
   place (no reload, no framework, no CDN). */
(function () {
  "use strict";
  var root = document.getElementById("screen");
  if (!root) { return; }
  var url = root.dataset.url;
  var interval = parseInt(root.dataset.interval, 10) || 3000;
  var updated = document.getElementById("screen-updated");
  var lastBatch = parseInt(root.dataset.batch, 10);

  function text(id, value) {
    var el = document.getElementById(id);
    if (el && el.textContent !== String(value)) { el.textContent = String(value); }
  }

  function render(state) {
    text("batch-number", state.batch);
    var range = state.batch
      ? updated.dataset.range.replace("%(a)s", state.first).replace("%(b)s", state.last)
      : updated.dataset.none;
    text("batch-range", range);
    var list = document.getElementById("batch-households");
    var key = state.batch + ":" + state.households.join("|");
    if (list.dataset.key !== key) {
      list.dataset.key = key;
      while (list.firstChild) { list.removeChild(list.firstChild); }
      state.households.forEach(function (h) {
        var li = document.createElement("li");
        li.textContent = h;
        list.appendChild(li);
      });
    }
    text("count-tested", state.tested);
    text("count-waiting", state.waiting);
    text("count-absent", state.absent);
    text("screen-state", state.state_label);
    if (state.batch !== lastBatch) {
      document.body.classList.add("flash");
      window.setTimeout(function () { document.body.classList.remove("flash"); }, 1500);
    }
    lastBatch = state.batch;
    root.dataset.batch = String(state.batch);
    updated.textContent = updated.dataset.label + " " + new Date().toLocaleTimeString();
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error(String(resp.status)); }
        return resp.json();
      })
      .then(render)
      .catch(function () { updated.textContent = updated.dataset.offline; })
      .then(function () { window.setTimeout(poll, interval); });
  }

  window.setTimeout(poll, interval);
})();
