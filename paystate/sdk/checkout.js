/*
 * Paystate checkout.js: opens the hosted checkout in a modal on a merchant's page.
 *
 *   <script src="https://GATEWAY/checkout.js"></script>
 *   new PaymentGateway({key, orderId, onSuccess, onFailure, onClose}).open();   // or .close()
 *   PaymentGateway.open({order_id, amount, onSuccess, onFailure, onClose});     // shorthand
 *
 * Contract:
 * - The only global is window.PaymentGateway; loading this file twice keeps the first copy.
 * - The gateway is the origin this script was loaded from; the modal's iframe shows
 *   GATEWAY/checkout?order_id=...&embedded=true&parent_origin=<this page's origin>.
 * - Bad options: one console.error naming the problem, and no modal.
 * - Messages are accepted only from that iframe, from the gateway's origin, and only of the
 *   types payment_success, payment_failed, close_modal and resize ({height}: the checkout's
 *   content height, which the modal fits, up to the viewport's height; taller scrolls inside).
 * - The modal covers the visual viewport (what the shopper sees), whatever the width of the
 *   merchant's page; on a phone (viewport or screen 480 px wide or less) the checkout is a
 *   sheet along the bottom of the screen, the width of the visual viewport.
 * - onSuccess({paymentId}) and onFailure({paymentId, code, description}) may be called while
 *   the modal stays open (the shopper sees the result and may retry after a failure);
 *   onClose() is called once each time an open modal goes away, whoever closed it.
 * No dependencies, no build step: plain ES2017 for every current browser.
 */
(function () {
  "use strict";
  if (window.PaymentGateway) {
    return;
  }

  var MODAL_ID = "payment-gateway-modal";
  var MESSAGE_TYPES = {
    payment_success: true, payment_failed: true, close_modal: true, resize: true
  };
  var PHONE_MAX_WIDTH = 480;
  // Until the checkout says how tall it is (its first resize message, as soon as it renders).
  var INITIAL_HEIGHT = 560;
  var MIN_HEIGHT = 120;
  var MAX_HEIGHT = 4000;
  // Space kept around the dialog on a larger screen, and above the sheet on a phone.
  var DESKTOP_MARGIN = 16;
  var PHONE_TOP_GAP = 24;
  var ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

  function scriptOrigin() {
    var script = document.currentScript;
    var src = script && script.src;
    if (!src) {
      var scripts = document.getElementsByTagName("script");
      for (var i = scripts.length - 1; i >= 0 && !src; i--) {
        if (/\/checkout\.js(\?|#|$)/.test(scripts[i].src)) {
          src = scripts[i].src;
        }
      }
    }
    try {
      return new URL(src).origin;
    } catch (e) {
      return null;
    }
  }

  var GATEWAY_ORIGIN = scriptOrigin();

  function fail(message) {
    console.error("PaymentGateway: " + message);
    return null;
  }

  // Returns the normalised options, or null after one console.error.
  function checkOptions(options) {
    if (!options || typeof options !== "object") {
      return fail("options must be an object, e.g. {orderId: 'order_...', onSuccess: fn}");
    }
    var orderId = options.orderId !== undefined ? options.orderId : options.order_id;
    if (typeof orderId !== "string" || !ORDER_ID.test(orderId)) {
      return fail("orderId (or order_id) must be the id of an order, e.g. 'order_...'");
    }
    if (options.key !== undefined && (typeof options.key !== "string" || !options.key)) {
      return fail("key must be your API key id (a non-empty string)");
    }
    var amount = options.amount;
    if (amount !== undefined && !(Number.isInteger(amount) && amount >= 100)) {
      return fail("amount must be the order's amount in paise (an integer >= 100)");
    }
    var names = ["onSuccess", "onFailure", "onClose"];
    for (var i = 0; i < names.length; i++) {
      var fn = options[names[i]];
      if (fn !== undefined && typeof fn !== "function") {
        return fail(names[i] + " must be a function");
      }
    }
    if (!GATEWAY_ORIGIN) {
      return fail("cannot tell which gateway served checkout.js; load it with a <script src>");
    }
    if (!window.location.origin || window.location.origin === "null") {
      return fail("the checkout must be opened from an http(s) page");
    }
    return {
      orderId: orderId,
      amount: amount,
      onSuccess: options.onSuccess,
      onFailure: options.onFailure,
      onClose: options.onClose
    };
  }

  function el(tag, attrs, style) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    // Styles through the CSSOM, not a <style> tag or style attributes, so a merchant's
    // Content-Security-Policy without 'unsafe-inline' does not block them.
    Object.keys(style || {}).forEach(function (name) {
      node.style.setProperty(name, style[name]);
    });
    return node;
  }

  // The part of the page the shopper sees, in the layout viewport's coordinates (which is
  // what position: fixed is relative to): when a page wider than the screen is zoomed or
  // scrolled sideways, this is still the screen.
  function visibleArea() {
    var vv = window.visualViewport;
    if (vv) {
      return { left: vv.offsetLeft, top: vv.offsetTop, width: vv.width, height: vv.height };
    }
    return { left: 0, top: 0, width: window.innerWidth, height: window.innerHeight };
  }

  function isPhone(area) {
    var screenWidth = window.screen && window.screen.width ? window.screen.width : area.width;
    return Math.min(area.width, screenWidth) <= PHONE_MAX_WIDTH;
  }

  function px(n) {
    return Math.round(n) + "px";
  }

  function call(fn, arg) {
    if (typeof fn !== "function") {
      return;
    }
    try {
      fn(arg);
    } catch (e) {
      console.error("PaymentGateway: your callback threw", e);
    }
  }

  function PaymentGateway(options) {
    if (!(this instanceof PaymentGateway)) {
      return new PaymentGateway(options);
    }
    this._options = options;
    this._modal = null;
  }

  PaymentGateway.prototype.open = function () {
    var opts = checkOptions(this._options);
    if (!opts) {
      return this;
    }
    if (this._modal) {
      return this;
    }
    if (document.getElementById(MODAL_ID)) {
      fail("another checkout is already open; close it first");
      return this;
    }
    var query = "order_id=" + encodeURIComponent(opts.orderId) + "&embedded=true" +
      "&parent_origin=" + encodeURIComponent(window.location.origin);
    if (opts.amount !== undefined) {
      query += "&amount=" + opts.amount;
    }
    // Position and size come from layout() below, which follows the visible area.
    var modal = el("div", { id: MODAL_ID, "data-test-id": "payment-modal" }, {
      position: "fixed", left: "0", top: "0", width: "100%", height: "100%",
      "z-index": "2147483647"
    });
    var overlay = el("div", { "class": "modal-overlay" }, {
      position: "absolute", inset: "0", display: "flex", "align-items": "center",
      "justify-content": "center", background: "rgba(15, 23, 42, 0.6)"
    });
    var content = el("div", {
      "class": "modal-content", role: "dialog", "aria-modal": "true", "aria-label": "Payment"
    }, {
      position: "relative", width: "420px", "max-width": "100%", background: "#fff",
      "border-radius": "12px", overflow: "hidden", "box-shadow": "0 20px 50px rgba(0, 0, 0, 0.35)"
    });
    var iframe = el("iframe", {
      "data-test-id": "payment-iframe",
      src: GATEWAY_ORIGIN + "/checkout?" + query,
      title: "Secure checkout",
      allow: "payment"
    }, { width: "100%", height: px(INITIAL_HEIGHT), border: "0", display: "block" });
    var closeButton = el("button", {
      type: "button", "class": "close-button", "data-test-id": "close-modal-button",
      "aria-label": "Close checkout"
    }, {
      position: "absolute", top: "8px", right: "8px", width: "32px", height: "32px",
      border: "0", "border-radius": "16px", background: "rgba(15, 23, 42, 0.08)",
      color: "#0f172a", font: "20px/32px sans-serif", cursor: "pointer", padding: "0"
    });
    closeButton.textContent = "\u00d7";
    content.appendChild(iframe);
    content.appendChild(closeButton);
    overlay.appendChild(content);
    modal.appendChild(overlay);

    var self = this;
    var contentHeight = INITIAL_HEIGHT;
    // The dialog fits the checkout's content, within the visible area; on a phone it is a
    // sheet along the bottom of the visible area, as wide as it.
    this._layout = function () {
      var area = visibleArea();
      var phone = isPhone(area);
      modal.style.setProperty("left", px(area.left));
      modal.style.setProperty("top", px(area.top));
      modal.style.setProperty("width", px(area.width));
      modal.style.setProperty("height", px(area.height));
      overlay.style.setProperty("align-items", phone ? "flex-end" : "center");
      content.style.setProperty("width", phone ? "100%" : "420px");
      content.style.setProperty("border-radius", phone ? "12px 12px 0 0" : "12px");
      var room = area.height - (phone ? PHONE_TOP_GAP : 2 * DESKTOP_MARGIN);
      iframe.style.setProperty("height", px(Math.max(MIN_HEIGHT, Math.min(contentHeight, room))));
    };
    this._iframe = iframe;
    this._returnFocus = document.activeElement;
    this._onMessage = function (event) {
      if (event.origin !== GATEWAY_ORIGIN || event.source !== iframe.contentWindow) {
        return;
      }
      var message = event.data;
      if (!message || typeof message !== "object" || !MESSAGE_TYPES[message.type]) {
        return;
      }
      var data = message.data && typeof message.data === "object" ? message.data : {};
      if (message.type === "resize") {
        var height = Number(data.height);
        if (Number.isFinite(height)) {
          contentHeight = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(height)));
          self._layout();
        }
      } else if (message.type === "payment_success") {
        call(opts.onSuccess, { paymentId: String(data.paymentId || "") });
      } else if (message.type === "payment_failed") {
        call(opts.onFailure, {
          paymentId: data.paymentId ? String(data.paymentId) : null,
          code: data.code ? String(data.code) : null,
          description: data.description ? String(data.description) : null
        });
      } else {
        self.close();
      }
    };
    this._onKey = function (event) {
      if (event.key === "Escape") {
        self.close();
      } else if (event.key === "Tab" && !event.shiftKey && event.target === closeButton) {
        event.preventDefault();
        iframe.focus();
      }
    };
    // Keep keyboard focus in the dialog: Tab on the close button (the dialog's last control)
    // wraps to the iframe, and Shift+Tab out of the iframe, which lands on the merchant's page
    // behind the overlay, wraps to the close button.
    this._onFocus = function (event) {
      if (!modal.contains(event.target)) {
        closeButton.focus();
      }
    };
    this._onClose = opts.onClose;
    closeButton.addEventListener("click", function () {
      self.close();
    });
    window.addEventListener("message", this._onMessage);
    window.addEventListener("resize", this._layout);
    if (window.visualViewport) {
      window.visualViewport.addEventListener("resize", this._layout);
      window.visualViewport.addEventListener("scroll", this._layout);
    }
    document.addEventListener("keydown", this._onKey);
    document.addEventListener("focusin", this._onFocus);
    this._bodyOverflow = document.body.style.overflow;
    document.body.style.overflow = "hidden";
    this._layout();
    document.body.appendChild(modal);
    this._modal = modal;
    iframe.focus();
    return this;
  };

  PaymentGateway.prototype.close = function () {
    var modal = this._modal;
    if (!modal) {
      return this;
    }
    this._modal = null;
    window.removeEventListener("message", this._onMessage);
    window.removeEventListener("resize", this._layout);
    if (window.visualViewport) {
      window.visualViewport.removeEventListener("resize", this._layout);
      window.visualViewport.removeEventListener("scroll", this._layout);
    }
    document.removeEventListener("keydown", this._onKey);
    document.removeEventListener("focusin", this._onFocus);
    if (modal.parentNode) {
      modal.parentNode.removeChild(modal);
    }
    document.body.style.overflow = this._bodyOverflow;
    if (this._returnFocus && typeof this._returnFocus.focus === "function") {
      this._returnFocus.focus();
    }
    call(this._onClose);
    return this;
  };

  PaymentGateway.open = function (options) {
    return new PaymentGateway(options).open();
  };

  Object.defineProperty(window, "PaymentGateway", {
    value: PaymentGateway, writable: false, enumerable: false, configurable: false
  });
})();
