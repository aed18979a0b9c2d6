// The console's only script: it keeps the page's live part current and
// swaps in the fragment the server renders and escapes. Where the server
// offers a change stream (data-events, fed by the watch API's
// notification-driven hub), the page re-fetches only when something it
// shows changed, and now and then for what changes with time alone;
// otherwise it polls every data-refresh. The session is an HttpOnly
// cookie this script cannot read.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("refresh-status");
  if (!live) {
    return;
  }
  var every = Number(live.getAttribute("data-refresh")) || 2000;
  var events = live.getAttribute("data-events");
  var timer = null;
  var fetching = false;
  var again = false;
  function say(text, ok) {
    if (status) {
      status.textContent = text;
      status.className = ok ? "refresh" : "refresh failing";
    }
  }
  function schedule(ms) {
    if (timer !== null) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(refresh, ms);
  }
  // refresh fetches the fragment once at a time: a change announced while
  // a fetch runs is fetched again right after it.
  function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
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
            say((events ? "live (watching) · " : "live · ") + new Date().toLocaleTimeString(), true);
          } else {
            say("refresh failed (HTTP " + r.status + "); showing the last update", false);
          }
        });
      })
      .catch(function (e) {
        say("refresh failed: " + e.message, false);
      })
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          refresh();
          return;
        }
        schedule(every);
      });
  }
  if (events && window.EventSource) {
    var source = new EventSource(events);
    // The server announces every change after the version the page was
    // rendered at (and, on a reconnection, after the last one announced).
    source.addEventListener("change", refresh);
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused for good (an expired session, no change feed): poll.
        events = null;
        every = 2000;
        schedule(every);
      }
    };
  }
  schedule(every);
})();
