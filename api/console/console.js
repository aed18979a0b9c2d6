// The console's only script: it re-fetches the page's live part every few
// seconds and swaps it in. The fragment is HTML the server rendered and
// escaped; the session is an HttpOnly cookie this script cannot read.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("refresh-status");
  if (!live) {
    return;
  }
  var every = Number(live.getAttribute("data-refresh")) || 2000;
  function say(text, ok) {
    if (status) {
      status.textContent = text;
      status.className = ok ? "refresh" : "refresh failing";
    }
  }
  function tick() {
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    fetch(url.toString(), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) {
          window.location.assign("/console/login");
          return null;
        }
        return r.text().then(function (html) {
          // A failed refresh (a database outage: 503) keeps the last
          // good content on the page and says so in the header.
          if (r.ok) {
            live.innerHTML = html;
            say("live · " + new Date().toLocaleTimeString(), true);
          } else {
            say("refresh failed (HTTP " + r.status + "); showing the last update", false);
          }
        });
      })
      .catch(function (e) {
        say("refresh failed: " + e.message, false);
      })
      .then(function () {
        window.setTimeout(tick, every);
      });
  }
  window.setTimeout(tick, every);
})();
