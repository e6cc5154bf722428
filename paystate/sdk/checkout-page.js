/*
 * The hosted checkout page (/checkout): order summary, UPI and card forms, processing,
 * success and error states. Served as a file of its own so the page's Content-Security-Policy
 * can forbid inline script.
 *
 * Reads the order from GET /api/v1/orders/{id}/public, pays with POST /api/v1/payments/public
 * (a fresh Idempotency-Key per press of Pay, reused only to resend that same request), polls
 * GET /api/v1/payments/{id}/public until the payment is final. Checks here mirror the server's
 * (paystate/machines/instruments.py); the server stays the authority and its message is shown.
 * Embedded in checkout.js's modal it posts payment_success / payment_failed / close_modal to
 * the embedding page's origin only (data-parent-origin, which the server checked against the
 * merchant's checkout_origins; empty when it refused, and then nothing is posted), and resize
 * {height} whenever its content's height changes, so the modal fits it.
 *
 * The header shows the merchant's name and logo and the order's receipt (never the order id);
 * a final result takes the place of the "Amount to pay" block. A UPI payment is a collect
 * request the shopper approves in their UPI app: the page counts down to its expiry,
 * UPI_EXPIRY_MS after the payment's created_at (the server's clock), and keeps the pending
 * payment's id in sessionStorage so a reload resumes the same countdown; at zero, still
 * pending, it says the request expired and offers a new attempt (one success per order holds
 * on the server, so a late approval cannot charge twice).
 */
(function () {
  "use strict";

  var VPA = /^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$/;
  var POLL_MS = 1000;
  var POLL_LIMIT_MS = 5 * 60 * 1000;
  var SEND_TRIES = 4;
  // A request is resent by itself only when told to wait this long at most; a longer
  // Retry-After (an order out of attempts says an hour) is shown to the shopper instead.
  var RESEND_MAX_WAIT_MS = 10 * 1000;
  var POLL_MAX_WAIT_MS = 60 * 1000;
  var UPI_EXPIRY_MS = 5 * 60 * 1000;
  // The device's clock is corrected by the server's Date header only beyond this: the header
  // has whole seconds, and a countdown that jumps by one second on a good clock looks broken.
  var CLOCK_SKEW_MIN_MS = 3000;

  var root = document.querySelector("[data-test-id=checkout-container]");
  var config = {
    orderId: root.getAttribute("data-order-id"),
    embedded: root.getAttribute("data-embedded") === "true",
    parentOrigin: root.getAttribute("data-parent-origin"),
    expectedAmount: root.getAttribute("data-expected-amount")
  };
  // sessionStorage: the payment this tab waits for, per order (see resume).
  var PENDING_KEY = "paystate.pending." + config.orderId;

  function $(testId) {
    return document.querySelector("[data-test-id=" + testId + "]");
  }

  var ui = {
    merchantName: $("merchant-name"),
    merchantLogo: $("merchant-logo"),
    amountBlock: document.getElementById("amount-block"),
    receiptLine: document.getElementById("receipt-line"),
    receipt: $("order-id"),
    paidAmount: document.getElementById("paid-amount"),
    countdown: $("upi-countdown"),
    countdownTime: $("upi-countdown-time"),
    errorTitle: document.getElementById("error-title"),
    amount: $("order-amount"),
    notice: document.getElementById("notice"),
    pay: document.getElementById("pay"),
    upiForm: $("upi-form"),
    cardForm: $("card-form"),
    methodUpi: $("method-upi"),
    methodCard: $("method-card"),
    vpa: $("vpa-input"),
    cardNumber: $("card-number-input"),
    expiry: $("expiry-input"),
    cvv: $("cvv-input"),
    holder: $("cardholder-name-input"),
    // One in each method's form (see checkout.html); payButton() is the shown form's.
    payButtons: document.querySelectorAll("[data-test-id=pay-button]"),
    formError: document.getElementById("form-error"),
    processing: $("processing-state"),
    processingMessage: $("processing-message"),
    success: $("success-state"),
    paymentId: $("payment-id"),
    error: $("error-state"),
    errorMessage: $("error-message"),
    retry: $("retry-button"),
    done: document.getElementById("done-button")
  };

  var state = { order: null, method: "upi", busy: false, countdownTimer: null };

  // -- messages to the embedding page ------------------------------------------------------

  // The page the browser framed us in, where it says (Chromium, Safari): a second check
  // beside the server's, so a result never goes to an origin the server did not hand us.
  function framedByParentOrigin() {
    var ancestors = window.location.ancestorOrigins;
    return !ancestors || ancestors.length === 0 || ancestors[0] === config.parentOrigin;
  }

  function notifyParent(type, data) {
    if (!config.embedded || !config.parentOrigin || window.parent === window ||
        !framedByParentOrigin()) {
      return;
    }
    var message = { type: type };
    if (data !== undefined) {
      message.data = data;
    }
    window.parent.postMessage(message, config.parentOrigin);
  }

  // -- formatting and checks (the server's rules) --------------------------------------------

  function formatAmount(paise, currency) {
    var whole = Math.floor(paise / 100);
    var fraction = String(paise % 100).padStart(2, "0");
    var grouped = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 0 }).format(whole);
    return (currency === "INR" ? "\u20b9" : currency + " ") + grouped + "." + fraction;
  }

  function luhn(digits) {
    var total = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) {
          d -= 9;
        }
      }
      total += d;
    }
    return total % 10 === 0;
  }

  function cardDigits(value) {
    return value.replace(/[ -]/g, "");
  }

  // Returns [field, message] pairs; empty when the form may be sent.
  function problems() {
    if (state.method === "upi") {
      return VPA.test(ui.vpa.value.trim()) ? [] :
        [[ui.vpa, "Enter a UPI ID like name@bank"]];
    }
    var found = [];
    var digits = cardDigits(ui.cardNumber.value.trim());
    if (!/^[0-9]{13,19}$/.test(digits) || !luhn(digits)) {
      found.push([ui.cardNumber, "Enter a valid card number"]);
    }
    var expiry = /^(\d{2})\s*\/\s*(\d{2})$/.exec(ui.expiry.value.trim());
    var now = new Date();
    if (!expiry) {
      found.push([ui.expiry, "Enter the expiry as MM/YY"]);
    } else {
      var month = Number(expiry[1]);
      var year = 2000 + Number(expiry[2]);
      if (month < 1 || month > 12) {
        found.push([ui.expiry, "The month must be 01 to 12"]);
      } else if (year < now.getFullYear() ||
                 (year === now.getFullYear() && month < now.getMonth() + 1)) {
        found.push([ui.expiry, "This card has expired"]);
      }
    }
    if (!/^[0-9]{3,4}$/.test(ui.cvv.value.trim())) {
      found.push([ui.cvv, "Enter the 3 or 4 digit CVV"]);
    }
    if (ui.holder.value.length > 255) {
      found.push([ui.holder, "The name is too long"]);
    }
    return found;
  }

  function fieldError(input, message) {
    var slot = document.getElementById(input.id + "-error");
    slot.textContent = message || "";
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function clearErrors() {
    [ui.vpa, ui.cardNumber, ui.expiry, ui.cvv, ui.holder].forEach(function (input) {
      fieldError(input, "");
    });
    ui.formError.textContent = "";
    ui.formError.hidden = true;
  }

  function formError(message) {
    ui.formError.textContent = message;
    ui.formError.hidden = false;
  }

  // -- states ---------------------------------------------------------------------------------

  // A final result (success or error) takes the place of the "Amount to pay" block.
  function show(section) {
    [ui.pay, ui.processing, ui.success, ui.error].forEach(function (node) {
      node.hidden = node !== section;
    });
    ui.notice.hidden = section !== null || !ui.notice.textContent;
    ui.amountBlock.hidden = section === ui.success || section === ui.error;
    if (section !== ui.processing) {
      stopCountdown();
    }
  }

  // -- the header: whom the shopper pays, and the merchant's reference ------------------------

  function showMerchant(order) {
    var merchant = order.merchant || {};
    if (merchant.name) {
      ui.merchantName.textContent = merchant.name;
      document.title = merchant.name + " \u00b7 Checkout";
    }
    // A logo that fails to load (moved, blocked) is left out; the name stays.
    if (merchant.logo_url && /^https?:\/\//.test(merchant.logo_url)) {
      ui.merchantLogo.addEventListener("error", function () {
        ui.merchantLogo.hidden = true;
      });
      ui.merchantLogo.addEventListener("load", function () {
        ui.merchantLogo.hidden = false;
      });
      ui.merchantLogo.src = merchant.logo_url;
    }
    // The receipt is the merchant's own reference (an invoice number); without one, nothing.
    ui.receipt.textContent = order.receipt || "";
    ui.receiptLine.hidden = !order.receipt;
  }

  // -- the UPI countdown ----------------------------------------------------------------------

  function clockText(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  // When the collect request of ``payment`` expires, on this device's clock: its created_at
  // plus UPI_EXPIRY_MS, moved by how far this device's clock is from the server's.
  function expiresAt(payment, result) {
    var skew = result.serverTime ? result.serverTime - result.receivedAt : 0;
    if (Math.abs(skew) < CLOCK_SKEW_MIN_MS) {
      skew = 0;
    }
    return Date.parse(payment.created_at) + UPI_EXPIRY_MS - skew;
  }

  function startCountdown(deadline) {
    stopCountdown();
    function tick() {
      ui.countdownTime.textContent = clockText(deadline - Date.now());
    }
    tick();
    ui.countdown.hidden = false;
    state.countdownTimer = setInterval(tick, 1000);
  }

  function stopCountdown() {
    if (state.countdownTimer !== null) {
      clearInterval(state.countdownTimer);
      state.countdownTimer = null;
    }
    ui.countdown.hidden = true;
  }

  // -- the pending payment, kept across a reload ----------------------------------------------

  function remember(paymentId) {
    try {
      if (paymentId) {
        window.sessionStorage.setItem(PENDING_KEY, paymentId);
      } else {
        window.sessionStorage.removeItem(PENDING_KEY);
      }
    } catch (e) {
      // Storage refused (a privacy setting): a reload then starts over, nothing worse.
    }
  }

  function remembered() {
    try {
      return window.sessionStorage.getItem(PENDING_KEY);
    } catch (e) {
      return null;
    }
  }

  function unavailable(message) {
    ui.notice.textContent = message;
    show(null);
  }

  function selectMethod(method) {
    state.method = method;
    var upi = method === "upi";
    ui.methodUpi.setAttribute("aria-pressed", String(upi));
    ui.methodCard.setAttribute("aria-pressed", String(!upi));
    ui.upiForm.hidden = !upi;
    ui.cardForm.hidden = upi;
    // Test mode: the instruments of the method in use (a shorter sheet).
    document.querySelectorAll(".test-instruments li, .test-note").forEach(function (node) {
      node.hidden = node.getAttribute("data-method") !== method;
    });
    clearErrors();
  }

  function payButton() {
    var form = state.method === "upi" ? ui.upiForm : ui.cardForm;
    return form.querySelector("[data-test-id=pay-button]");
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.payButtons.forEach(function (button) {
      button.disabled = busy;
      button.setAttribute("aria-busy", String(busy));
    });
  }

  // -- HTTP -----------------------------------------------------------------------------------

  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  function retryAfterMs(response) {
    var seconds = Number(response.headers.get("Retry-After"));
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
  }

  // fetch that answers {status, body, retryAfter}; status 0 means the network failed.
  function request(method, path, body, headers) {
    var init = { method: method, headers: headers || {}, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      var receivedAt = Date.now();
      var serverTime = Date.parse(response.headers.get("Date") || "");
      return response.json().catch(function () {
        return null;
      }).then(function (json) {
        return { status: response.status, body: json, retryAfter: retryAfterMs(response),
                 serverTime: Number.isFinite(serverTime) ? serverTime : null,
                 receivedAt: receivedAt };
      });
    }, function () {
      return { status: 0, body: null, retryAfter: 1000 };
    });
  }

  function resendable(result) {
    var transient = result.status === 0 || result.status === 409 || result.status === 429 ||
      result.status >= 500;
    return transient && result.retryAfter <= RESEND_MAX_WAIT_MS;
  }

  function errorText(result) {
    var error = result.body && result.body.error;
    if (result.status === 429 && result.retryAfter <= RESEND_MAX_WAIT_MS) {
      return "Too many attempts right now. Please wait a moment and try again.";
    }
    if (result.status === 0) {
      return "We could not reach the payment server. Check your connection and try again.";
    }
    return (error && error.description) || "Something went wrong. Please try again.";
  }

  // -- the flow -------------------------------------------------------------------------------

  // Network errors, 429 and 5xx are retried a few times, Retry-After apart.
  function loadOrder(tries) {
    if (!config.orderId) {
      return;
    }
    request("GET", "/api/v1/orders/" + encodeURIComponent(config.orderId) + "/public")
      .then(function (result) {
        if (resendable(result) && tries + 1 < SEND_TRIES) {
          return sleep(result.retryAfter).then(function () {
            loadOrder(tries + 1);
          });
        }
        if (result.status === 404) {
          ui.amount.textContent = "\u2014";
          return unavailable("We could not find this order. Please check the link or ask " +
                             "the merchant for a new one.");
        }
        if (result.status !== 200) {
          ui.amount.textContent = "\u2014";
          return unavailable(errorText(result) + " Reload the page to try again.");
        }
        var order = result.body;
        state.order = order;
        showMerchant(order);
        ui.amount.textContent = formatAmount(order.amount, order.currency);
        if (order.status === "paid") {
          remember(null);
          return unavailable("This order has already been paid. There is nothing more to pay.");
        }
        if (config.expectedAmount && Number(config.expectedAmount) !== order.amount) {
          return unavailable("The amount you were shown does not match this order, so it " +
                             "cannot be paid here. Please contact the merchant.");
        }
        ui.payButtons.forEach(function (button) {
          button.textContent = "Pay " + formatAmount(order.amount, order.currency);
        });
        var pending = remembered();
        if (pending) {
          return resume(pending);
        }
        showForm();
      });
  }

  function showForm() {
    show(ui.pay);
    (state.method === "upi" ? ui.vpa : ui.cardNumber).focus();
  }

  // After a reload: the payment this tab was waiting for, if it is still pending, is followed
  // again (with its UPI countdown where it is one); otherwise the form.
  function resume(paymentId) {
    var path = "/api/v1/payments/" + encodeURIComponent(paymentId) + "/public";
    return request("GET", path).then(function (result) {
      var payment = result.body;
      if (result.status !== 200 || !payment || payment.status !== "pending" ||
          payment.order_id !== config.orderId) {
        remember(null);
        return showForm();
      }
      selectMethod(payment.method === "card" ? "card" : "upi");
      setBusy(true);
      return follow(payment, result);
    });
  }

  function paymentBody() {
    var body = { order_id: config.orderId, method: state.method };
    if (state.method === "upi") {
      body.vpa = ui.vpa.value.trim();
    } else {
      var expiry = /^(\d{2})\s*\/\s*(\d{2})$/.exec(ui.expiry.value.trim());
      body.card = {
        number: cardDigits(ui.cardNumber.value.trim()),
        expiry_month: expiry[1],
        expiry_year: expiry[2],
        cvv: ui.cvv.value.trim(),
        holder_name: ui.holder.value.trim() || undefined
      };
    }
    return body;
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return "checkout_" + window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "checkout_" + Array.prototype.map.call(bytes, function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  // POST with one Idempotency-Key; resent with the same key after a network error, 409, 429
  // or 5xx whose Retry-After is short (see resendable).
  function createPayment(body) {
    var headers = { "Idempotency-Key": newKey() };
    function attempt(n) {
      return request("POST", "/api/v1/payments/public", body, headers).then(function (result) {
        if (resendable(result) && n + 1 < SEND_TRIES) {
          return sleep(result.retryAfter).then(function () {
            return attempt(n + 1);
          });
        }
        return result;
      });
    }
    return attempt(0);
  }

  // The final payment, or null once ``deadline`` (a Date.now() time) has passed first.
  function poll(paymentId, deadline) {
    var path = "/api/v1/payments/" + encodeURIComponent(paymentId) + "/public";
    return request("GET", path).then(function (result) {
      if (result.status === 200 && result.body.status !== "pending") {
        return result.body;
      }
      if (Date.now() >= deadline) {
        return null;
      }
      if (result.status === 429) {
        ui.processingMessage.textContent = "Still processing\u2026 checking again shortly.";
      }
      var wait = result.status === 200 ? POLL_MS : Math.min(Math.max(POLL_MS, result.retryAfter), POLL_MAX_WAIT_MS);
      wait = Math.max(0, Math.min(wait, deadline - Date.now()));
      return sleep(wait).then(function () {
        return poll(paymentId, deadline);
      });
    });
  }

  function succeeded(payment) {
    ui.paymentId.textContent = payment.id;
    ui.paidAmount.textContent = formatAmount(payment.amount, payment.currency) + " paid" +
      (state.order && state.order.merchant && state.order.merchant.name ?
        " to " + state.order.merchant.name : "");
    show(ui.success);
    ui.success.focus();
    notifyParent("payment_success", { paymentId: payment.id });
  }

  function failed(payment, message) {
    showError("Payment failed", message, true);
    notifyParent("payment_failed", {
      paymentId: payment ? payment.id : null,
      code: payment ? payment.error_code : null,
      description: message
    });
  }

  // Polling gave up while the payment is still pending: it may yet succeed, so tell nobody it
  // failed and offer no retry (a second payment could be charged too).
  function stillPending() {
    showError("Not confirmed yet", "Your bank has not confirmed this payment yet. Please do " +
      "not pay again: the merchant will be told the result.", false);
  }

  // The error state with a title, a message and, where ``retry``, the retry button (focused).
  function showError(title, message, retry) {
    ui.errorTitle.textContent = title;
    ui.errorMessage.textContent = message;
    ui.retry.hidden = !retry;
    show(ui.error);
    (retry ? ui.retry : ui.error).focus();
  }

  // The UPI collect request ran out with the payment still pending: the shopper may start a
  // new one. Nothing is posted to the merchant's page: the payment has not failed (yet), and
  // the merchant learns its outcome from its webhooks.
  function expired() {
    showError("Request expired", "The payment request expired before it was approved in " +
      "your UPI app. You can try again.", true);
  }

  // Shows the pending ``payment`` (``result``: the answer that carried it) until it is final.
  function follow(payment, result) {
    var upi = payment.method === "upi";
    var deadline;
    remember(payment.id);
    if (upi) {
      deadline = expiresAt(payment, result);
      ui.processingMessage.textContent = "Approve the request in your UPI app";
    } else {
      deadline = Date.now() + POLL_LIMIT_MS;
      ui.processingMessage.textContent = "Processing your payment\u2026 Please do not " +
        "close this window.";
    }
    show(ui.processing);
    if (upi) {
      startCountdown(deadline);
    }
    return poll(payment.id, deadline).then(function (final) {
      setBusy(false);
      remember(null);
      if (!final) {
        if (upi) {
          expired();
        } else {
          stillPending();
        }
      } else if (final.status === "success") {
        succeeded(final);
      } else {
        failed(final, final.error_description || "The payment failed.");
      }
    });
  }

  function submit(event) {
    event.preventDefault();
    if (state.busy || !state.order) {
      return;
    }
    clearErrors();
    var found = problems();
    if (found.length) {
      found.forEach(function (pair) {
        fieldError(pair[0], pair[1]);
      });
      found[0][0].focus();
      return;
    }
    setBusy(true);
    createPayment(paymentBody()).then(function (result) {
      if (result.status !== 201 && result.status !== 200) {
        setBusy(false);
        formError(errorText(result));
        payButton().focus();
        return;
      }
      ui.cvv.value = "";
      return follow(result.body, result);
    });
  }

  // -- input formatting -----------------------------------------------------------------------

  ui.cardNumber.addEventListener("input", function () {
    var digits = ui.cardNumber.value.replace(/\D/g, "").slice(0, 19);
    ui.cardNumber.value = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  ui.expiry.addEventListener("input", function () {
    var digits = ui.expiry.value.replace(/\D/g, "").slice(0, 4);
    ui.expiry.value = digits.length > 2 ? digits.slice(0, 2) + "/" + digits.slice(2) : digits;
  });
  ui.cvv.addEventListener("input", function () {
    ui.cvv.value = ui.cvv.value.replace(/\D/g, "").slice(0, 4);
  });

  // -- wiring ---------------------------------------------------------------------------------

  ui.methodUpi.addEventListener("click", function () {
    selectMethod("upi");
  });
  ui.methodCard.addEventListener("click", function () {
    selectMethod("card");
  });
  ui.upiForm.addEventListener("submit", submit);
  ui.cardForm.addEventListener("submit", submit);
  ui.retry.addEventListener("click", function () {
    clearErrors();
    showForm();
  });
  // Test mode: a listed test instrument fills its form (the page lists them only then).
  document.querySelectorAll(".test-fill").forEach(function (button) {
    button.addEventListener("click", function () {
      var method = button.getAttribute("data-method");
      selectMethod(method);
      var input = method === "upi" ? ui.vpa : ui.cardNumber;
      input.value = button.getAttribute("data-value");
      input.focus();
    });
  });
  if (ui.done) {
    ui.done.addEventListener("click", function () {
      notifyParent("close_modal");
    });
  }
  if (config.embedded) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        notifyParent("close_modal");
      }
    });
  }

  // Embedded: checkout.js sizes the modal to the content's height, which it learns from here
  // (the content, not the document: a document is at least as tall as its frame).
  if (config.embedded && typeof window.ResizeObserver === "function") {
    var sentHeight = 0;
    new window.ResizeObserver(function () {
      var height = Math.ceil(root.getBoundingClientRect().height);
      if (height !== sentHeight) {
        sentHeight = height;
        notifyParent("resize", { height: height });
      }
    }).observe(root);
  }

  selectMethod("upi");
  loadOrder(0);
})();
