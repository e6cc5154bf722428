/* /dashboard/transactions: status badges follow the live feed without a reload. */
(function () {
  "use strict";
  PaystateLive.connect({
    onEvents: function (items) {
      items.forEach(function (item) {
        if (item.machine !== "payment" || !item.status) { return; }
        document.querySelectorAll("[data-live-status]").forEach(function (badge) {
          if (badge.getAttribute("data-live-status") === item.id) {
            badge.textContent = item.status;
            badge.className = "badge status-" + item.status;
          }
        });
      });
    }
  });
}());
