/* /dashboard/states/{kind}/{id}: the object's timeline and current state, refreshed when the
   live feed mentions it (or, for deliveries whose outcomes publish no event, when the counts of
   deliveries change while this one is still in flight). */
(function () {
  "use strict";
  var root = document.querySelector("[data-test-id=state-object]");
  if (!root) { return; }
  var kind = root.getAttribute("data-kind");
  var machine = root.getAttribute("data-machine");
  var id = root.getAttribute("data-object-id");
  var STATUS = {pending: "pending", retrying: "pending", succeeded: "success", failed: "failed"};
  var final = false;
  var pending = null;

  function mark(state, transitions) {
    var diagram = root.querySelector(".diagram");
    diagram.setAttribute("data-current", state);
    diagram.querySelectorAll("g.state").forEach(function (g) {
      g.classList.toggle("current", g.getAttribute("data-state") === state);
    });
    var visited = {};
    transitions.forEach(function (t) { visited[(t.from_state || "") + ">" + t.to_state] = true; });
    diagram.querySelectorAll("g.transition").forEach(function (g) {
      g.classList.toggle("taken", !!visited[g.getAttribute("data-from") + ">" + g.getAttribute("data-to")]);
    });
  }

  function cell(text, testId) {
    var td = document.createElement("td");
    if (testId) { td.setAttribute("data-test-id", testId); }
    td.textContent = text;
    return td;
  }

  function render(body) {
    final = body.final;
    var badge = root.querySelector("[data-test-id=object-state]");
    badge.textContent = body.state;
    badge.className = "badge status-" + (machine === "webhook_delivery" ? STATUS[body.state] : body.state);
    var status = root.querySelector("[data-test-id=object-status]");
    if (status) { status.textContent = STATUS[body.state] || body.state; }
    var tbody = document.querySelector("[data-test-id=transition-timeline] tbody");
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    body.transitions.forEach(function (t) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-test-id", "transition-row");
      tr.setAttribute("data-seq", String(t.seq));
      tr.appendChild(cell(String(t.seq)));
      tr.appendChild(cell(t.from_state || "(new)", "transition-from"));
      tr.appendChild(cell(t.to_state, "transition-to"));
      tr.appendChild(cell(t.trigger, "transition-trigger"));
      tr.appendChild(cell(PaystateLive.formatTime(t.at), "transition-at"));
      var data = cell("");
      var code = document.createElement("code");
      code.textContent = JSON.stringify(t.data);
      data.appendChild(code);
      tr.appendChild(data);
      var step = cell("");
      var link = document.createElement("a");
      link.href = "?as_of=" + encodeURIComponent(t.at);
      link.setAttribute("data-test-id", "timeline-step");
      link.textContent = "view";
      step.appendChild(link);
      tr.appendChild(step);
      tbody.appendChild(tr);
    });
    mark(body.state, body.transitions);
  }

  function refresh() {
    if (pending) { return; }
    pending = setTimeout(function () {
      fetch("/dashboard/api/timeline/" + kind + "/" + encodeURIComponent(id),
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { pending = null; if (body) { render(body); } })
        .catch(function () { pending = null; });
    }, 100);
  }

  // As of an instant (?as_of=): the state then, and the transitions taken by then; history
  // does not move, so the page does not go live.
  if (root.hasAttribute("data-as-of")) {
    var taken = [];
    document.querySelectorAll("[data-test-id=transition-row][data-shown]").forEach(function (tr) {
      taken.push({from_state: tr.getAttribute("data-from"), to_state: tr.getAttribute("data-to")});
    });
    mark(root.getAttribute("data-state"), taken);
    return;
  }

  PaystateLive.connect({
    onCounts: function () { if (!final || machine === "webhook_delivery") { refresh(); } },
    onEvents: function (items, skipped) {
      if (skipped || items.some(function (i) { return i.id === id; })) { refresh(); }
    }
  });
  refresh();
}());
