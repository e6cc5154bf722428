/* The dashboard's live connection: one EventSource per page on /dashboard/events.
   PaystateLive.connect({onCounts, onEvents}) calls back with the server's messages and keeps
   [data-test-id=live-status] up to date. The browser reconnects by itself after a drop; every
   (re)connection starts with a fresh "counts" snapshot. */
(function () {
  "use strict";
  function setStatus(state, text) {
    var el = document.querySelector("[data-test-id=live-status]");
    if (el) { el.setAttribute("data-state", state); el.textContent = text; }
  }
  function connect(handlers) {
    var source = new EventSource("/dashboard/events");
    source.addEventListener("open", function () { setStatus("live", "live"); });
    source.addEventListener("error", function () {
      setStatus("reconnecting", source.readyState === EventSource.CLOSED ? "offline" : "reconnecting…");
    });
    source.addEventListener("counts", function (e) {
      setStatus("live", "live");
      if (handlers.onCounts) { handlers.onCounts(JSON.parse(e.data).counts); }
    });
    source.addEventListener("events", function (e) {
      var msg = JSON.parse(e.data);
      if (handlers.onEvents) { handlers.onEvents(msg.items || [], msg.skipped || 0); }
    });
    window.addEventListener("pagehide", function () { source.close(); });
    return source;
  }
  function formatTime(iso) {
    if (!iso) { return "-"; }
    return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
  }
  window.PaystateLive = {connect: connect, formatTime: formatTime};
}());
