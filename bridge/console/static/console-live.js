// The delivery report fills in by itself: every 2 seconds, while the push is still going
// out, the report's changing part is fetched again and put in place. Without this script
// the page works the same through its Refresh link (kept outside that part). It does not
// poll while the page is hidden, and stops after 10 minutes: the server does not count its
// requests as the admin's use, and an open tab must not poll for ever.
// For keyboard and screen-reader users: the part is replaced only when it changed and never
// while focus is inside it, and only the end (or a stop) is announced (#report-announce,
// role="status"), not each turn.
(function () {
  "use strict";
  var report = document.getElementById("report");
  var summary = document.getElementById("report-summary");
  var announce = document.getElementById("report-announce");
  if (!report || !summary || !announce || report.dataset.finished === "true") {
    return;
  }
  var every = 2000;
  var until = Date.now() + 10 * 60 * 1000;
  function say(words) {
    summary.textContent = words;
    announce.textContent = words;
  }
  function later() {
    if (Date.now() >= until) {
      say("This report stopped refreshing itself after 10 minutes: use Refresh to see how it is going.");
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
        if (report.contains(document.activeElement)) {
          later(); // leave the part as it is under the reader's focus; try again next turn
          return;
        }
        var finished = fresh.dataset.finished === "true";
        if (report.innerHTML !== fresh.innerHTML) {
          report.replaceChildren.apply(report, Array.from(fresh.childNodes));
        }
        var said = fresh.dataset.summary || "";
        if (summary.textContent !== said) {
          summary.textContent = said; // seen, not announced
        }
        if (finished) {
          report.dataset.finished = "true";
          announce.textContent = said;
        } else {
          later();
        }
      })
      .catch(function () {
        say("This report stopped refreshing itself: reload the page to see how it went.");
      });
  }
  later();
})();
