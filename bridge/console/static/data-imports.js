// The Imports page follows an import under way: it asks how far it is every second, moves
// the progress bar, and reloads the page for the report when it is done. Without scripts
// the page refreshes itself (a <noscript> refresh) instead.
(function () {
  "use strict";
  var job = document.getElementById("import-job");
  var status = job && job.getAttribute("data-status");
  if (!status) { return; }
  var bar = document.getElementById("import-progress");
  var count = document.getElementById("import-count");
  function ask() {
    fetch(status, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        if (state.finished) { window.location.reload(); return; }
        if (state.total !== null) {
          bar.max = Math.max(state.total, 1);
          bar.value = state.done;
          count.textContent = state.done.toLocaleString("en-GB") + " of " +
            state.total.toLocaleString("en-GB") + " rows";
        }
        window.setTimeout(ask, 1000);
      })
      .catch(function () { window.setTimeout(ask, 3000); });
  }
  window.setTimeout(ask, 500);
})();
