/* /dashboard/webhooks: ask before replacing the default endpoint's signing secret; in the
   Endpoints forms, show only the chosen format's events and set them aside while "All events"
   is ticked; open an endpoint's panel when its Manage link is followed. Every form works
   without this file: the server takes the chosen format's boxes, and "All events" wins. */
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });

  document.querySelectorAll("form.stacked-form").forEach(function (form) {
    var select = form.querySelector("select[name=format]");
    var all = form.querySelector("input[name=all_events]");
    function sync() {
      form.querySelectorAll("fieldset.events").forEach(function (set) {
        set.hidden = select !== null && set.getAttribute("data-format") !== select.value;
        set.disabled = all !== null && all.checked;
      });
    }
    if (select) { select.addEventListener("change", sync); }
    if (all) { all.addEventListener("change", sync); }
    sync();
  });

  function openFromHash() {
    var id = window.location.hash.slice(1);
    var panel = id.indexOf("manage-") === 0 ? document.getElementById(id) : null;
    if (panel && panel.tagName === "DETAILS") { panel.open = true; }
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
}());
