/* The console's overview, live: one EventSource on /ops/events (same mode as the page) whose
   "overview" messages carry the figures; each message redraws the tables the server rendered
   first. Text goes in through textContent only. The browser reconnects by itself. */
(function () {
  "use strict";
  var root = document.querySelector("[data-test-id=ops-overview]");
  // An overview as of an instant is about the past: nothing to stream.
  if (!root || root.hasAttribute("data-as-of") || !window.EventSource) { return; }
  var status = document.querySelector("[data-test-id=live-status]");
  function setStatus(state, text) { status.setAttribute("data-state", state); status.textContent = text; }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return node;
  }
  function row(cells, attrs) {
    return el("tr", attrs, cells.map(function (c) {
      return c instanceof Node ? el("td", {}, [c]) : el("td", typeof c === "number" ? {"class": "num"} : {}, [c]);
    }));
  }
  function head(names) { return el("tr", {}, names.map(function (n) { return el("th", {}, [n]); })); }
  function fill(slot, nodes) {
    var target = root.querySelector("[data-slot=" + slot + "]");
    if (!target) { return; }
    while (target.firstChild) { target.removeChild(target.firstChild); }
    nodes.forEach(function (n) { target.appendChild(n); });
  }
  function empty(cols, text) { return el("tr", {"class": "empty"}, [el("td", {colspan: String(cols)}, [text])]); }
  function title(machine) { return machine.replace("_", " "); }

  function draw(f) {
    document.querySelector("[data-test-id=overview-at]").textContent = f.at;
    var counts = [];
    Object.keys(f.counts || {}).forEach(function (machine) {
      var states = f.counts[machine];
      counts.push(el("h3", {}, [title(machine)]));
      var rows = Object.keys(states).map(function (s) {
        return row([s, states[s]], {"data-test-id": "state-count", "data-machine": machine, "data-state": s});
      });
      counts.push(el("table", {"class": "data compact"}, rows.length ? rows : [empty(2, "none")]));
    });
    fill("counts", counts);
    fill("rates", [head(["machine", "created", "succeeded", "failed"])].concat(
      ["payment", "refund", "webhook_delivery"].map(function (m) {
        var r = (f.rates || {})[m] || {};
        return row([title(m), r.created || 0, r.succeeded || 0, r.failed || 0], {"data-machine": m});
      })));
    fill("health", Object.keys(f.health || {}).map(function (name) {
      var h = f.health[name];
      return el("li", {"data-test-id": "health-" + name, "data-ok": h.ok ? "true" : "false"},
        [name + ": " + (h.ok ? "ok" : "DOWN " + (h.error || "")) + (h.ms != null ? " (" + h.ms + " ms)" : "")]);
    }));
    var stuck = [head(["machine", "id", "merchant", "status", "late (s)"])], totals = [];
    Object.keys(f.stuck || {}).forEach(function (machine) {
      var s = f.stuck[machine];
      s.items.forEach(function (item) {
        var link = el("a", {href: "/ops/merchants/" + encodeURIComponent(item.merchant_id)}, [item.merchant_id.slice(0, 8)]);
        stuck.push(row([title(machine), el("code", {}, [item.id]), link, item.status, item.late_s],
          {"data-test-id": "stuck-item", "data-machine": machine, "data-id": item.id}));
      });
      totals.push(title(machine) + ": ", el("span", {"data-test-id": "stuck-count", "data-machine": machine},
        [String(s.count) + (s.more ? "+" : "")]), " ");
    });
    if (stuck.length === 1) { stuck.push(empty(5, "Nothing is stuck.")); }
    fill("stuck", stuck);
    fill("stuck-total", totals.map(function (t) { return typeof t === "string" ? document.createTextNode(t) : t; }));
    var workers = (f.workers || []).map(function (w) {
      return row([el("code", {}, [w.id]), w.last_seen_s, w.alive ? "alive" : "stale"], {"data-test-id": "worker-row"});
    });
    fill("workers", [head(["worker", "last seen (s)", "state"])].concat(workers.length ? workers : [empty(3, "No worker has reported.")]));
    var groups = (f.streams || []).map(function (g) {
      return row([el("code", {}, [g.stream]), g.group, g.pending, g.lag == null ? "-" : g.lag], {"data-test-id": "stream-row"});
    });
    fill("streams", [head(["stream", "group", "pending", "lag"])].concat(groups.length ? groups : [empty(4, "No consumer group yet.")]));
  }

  var mode = root.getAttribute("data-mode");
  var source = new EventSource("/ops/events" + (mode === "all" ? "" : "?mode=" + encodeURIComponent(mode)));
  source.addEventListener("open", function () { setStatus("live", "live"); });
  source.addEventListener("error", function () {
    setStatus("reconnecting", source.readyState === EventSource.CLOSED ? "offline" : "reconnecting…");
  });
  source.addEventListener("overview", function (e) { setStatus("live", "live"); draw(JSON.parse(e.data)); });
  window.addEventListener("pagehide", function () { source.close(); });
}());
