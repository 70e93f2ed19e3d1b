// The delivery report fills in by itself: every 2 seconds, while the push is still going
// out, the report's changing part is fetched again and put in place. Without this script
// the page works the same through its Refresh link. Only the one-line summary is announced
// (role="status"), so a screen reader is not read the whole table at each turn. It does not
// poll while the page is hidden, and stops after 10 minutes: the server does not count its
// requests as the admin's use, and an open tab must not poll for ever.
(function () {
  "use strict";
  var report = document.getElementById("report");
  var summary = document.getElementById("report-summary");
  if (!report || !summary || report.dataset.finished === "true") {
    return;
  }
  var every = 2000;
  var until = Date.now() + 10 * 60 * 1000;
  function stop(why) {
    summary.textContent = why;
  }
  function later() {
    if (Date.now() >= until) {
      stop("This report stopped refreshing itself after 10 minutes: use Refresh to see how it is going.");
      return;
    }
    window.setTimeout(turn, every);
  }
  function turn() {
    if (document.hidden) {
      // Resume once the page is shown again, not before.
      document.addEventListener("visibilitychange", function shown() {
        if (!document.hidden) {
          document.removeEventListener("visibilitychange", shown);
          later();
        }
      });
      return;
    }
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
          later();
        }
      })
      .catch(function () {
        stop("This report stopped refreshing itself: reload the page to see how it went.");
      });
  }
  later();
})();
