// The delivery report fills in by itself: every 2 seconds, while the push is still going
// out, the report's changing part is fetched again and put in place. Without this script
// the page works the same through its Refresh link. Only the one-line summary is announced
// (role="status"), so a screen reader is not read the whole table at each turn.
(function () {
  "use strict";
  var report = document.getElementById("report");
  var summary = document.getElementById("report-summary");
  if (!report || !summary || report.dataset.finished === "true") {
    return;
  }
  var every = 2000;
  function turn() {
    fetch(report.dataset.live, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (body) {
        var found = new DOMParser().parseFromString(body, "text/html");
        var fresh = found.querySelector("[data-live-part]");
        if (!fresh) {
          throw new Error("not a report");
        }
        report.replaceChildren.apply(report, Array.from(fresh.childNodes));
        var said = fresh.dataset.summary || "";
        if (summary.textContent !== said) {
          summary.textContent = said;
        }
        report.dataset.finished = fresh.dataset.finished;
        if (fresh.dataset.finished !== "true") {
          window.setTimeout(turn, every);
        }
      })
      .catch(function () {
        summary.textContent = "This report stopped refreshing itself: reload the page to see how it went.";
      });
  }
  window.setTimeout(turn, every);
})();
