/* /dashboard/states: live counts in every machine's diagram and a feed of transitions. */
(function () {
  "use strict";
  var KIND_URL = {payment: "payment", refund: "refund", webhook_delivery: "delivery"};
  var FEED_MAX = 50;

  function applyCounts(counts) {
    document.querySelectorAll("section[data-machine]").forEach(function (section) {
      var byState = counts[section.getAttribute("data-machine")] || {};
      section.querySelectorAll("[data-count-for]").forEach(function (el) {
        var n = String(byState[el.getAttribute("data-count-for")] || 0);
        if (el.textContent !== n) {
          el.textContent = n;
          var node = el.closest("g.state");
          if (node) {
            node.classList.remove("bumped");
            void node.getBoundingClientRect();
            node.classList.add("bumped");
          }
        }
      });
    });
  }

  function addEvents(items, skipped) {
    var feed = document.querySelector("[data-test-id=live-feed]");
    if (!feed) { return; }
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.setAttribute("data-test-id", "live-feed-item");
      li.setAttribute("data-object-id", item.id || "");
      var time = document.createElement("span");
      time.className = "muted";
      time.textContent = new Date((item.timestamp ? item.timestamp * 1000 : Date.now()))
        .toISOString().slice(11, 19) + " ";
      var link = document.createElement("a");
      link.href = "/dashboard/states/" + KIND_URL[item.machine] + "/" + encodeURIComponent(item.id || "");
      // A delivery is shown by what it is about (its event and object), not its UUID.
      link.textContent = item.machine === "webhook_delivery" && item.delivery_event
        ? "webhook " + item.delivery_event + (item.object_id ? " · " + item.object_id : "")
        : item.id || "";
      var what = document.createElement("span");
      what.textContent = " " + (item.machine === "webhook_delivery" && item.delivery_event
        ? "attempt scheduled" : item.event) + (item.status ? " → " + item.status : "") +
        (item.attempt ? " (attempt " + item.attempt + ")" : "");
      li.appendChild(time); li.appendChild(link); li.appendChild(what);
      feed.insertBefore(li, feed.firstChild);
    });
    if (skipped) {
      var note = document.createElement("li");
      note.className = "muted";
      note.textContent = skipped + " more events not shown";
      feed.insertBefore(note, feed.firstChild);
    }
    while (feed.children.length > FEED_MAX) { feed.removeChild(feed.lastChild); }
  }

  // The counts the page was rendered with, every machine's at once (applying one machine's
  // alone would zero the others until the live snapshot arrives).
  var initial = {};
  document.querySelectorAll("section[data-machine]").forEach(function (section) {
    initial[section.getAttribute("data-machine")] = JSON.parse(section.getAttribute("data-counts") || "{}");
  });
  applyCounts(initial);
  // Counts as of an instant (?as_of=) are history: nothing live moves them.
  if (!document.querySelector("[data-as-of]")) {
    PaystateLive.connect({onCounts: applyCounts, onEvents: addEvents});
  }
}());
