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
 * merchant's checkout_origins; empty when it refused, and then nothing is posted).
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

  var root = document.querySelector("[data-test-id=checkout-container]");
  var config = {
    orderId: root.getAttribute("data-order-id"),
    embedded: root.getAttribute("data-embedded") === "true",
    parentOrigin: root.getAttribute("data-parent-origin"),
    expectedAmount: root.getAttribute("data-expected-amount")
  };

  function $(testId) {
    return document.querySelector("[data-test-id=" + testId + "]");
  }

  var ui = {
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

  var state = { order: null, method: "upi", busy: false };

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

  function show(section) {
    [ui.pay, ui.processing, ui.success, ui.error].forEach(function (node) {
      node.hidden = node !== section;
    });
    ui.notice.hidden = section !== null || !ui.notice.textContent;
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
      return response.json().catch(function () {
        return null;
      }).then(function (json) {
        return { status: response.status, body: json, retryAfter: retryAfterMs(response) };
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
        ui.amount.textContent = formatAmount(order.amount, order.currency);
        if (order.status === "paid") {
          return unavailable("This order has already been paid. There is nothing more to pay.");
        }
        if (config.expectedAmount && Number(config.expectedAmount) !== order.amount) {
          return unavailable("The amount you were shown does not match this order, so it " +
                             "cannot be paid here. Please contact the merchant.");
        }
        ui.payButtons.forEach(function (button) {
          button.textContent = "Pay " + formatAmount(order.amount, order.currency);
        });
        show(ui.pay);
        (state.method === "upi" ? ui.vpa : ui.cardNumber).focus();
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

  function poll(paymentId, startedAt) {
    var path = "/api/v1/payments/" + encodeURIComponent(paymentId) + "/public";
    return request("GET", path).then(function (result) {
      if (result.status === 200 && result.body.status !== "pending") {
        return result.body;
      }
      if (Date.now() - startedAt > POLL_LIMIT_MS) {
        return null;
      }
      if (result.status === 429) {
        ui.processingMessage.textContent = "Still processing\u2026 checking again shortly.";
      }
      var wait = result.status === 200 ? POLL_MS : Math.min(Math.max(POLL_MS, result.retryAfter), POLL_MAX_WAIT_MS);
      return sleep(wait).then(function () {
        return poll(paymentId, startedAt);
      });
    });
  }

  function succeeded(payment) {
    ui.paymentId.textContent = payment.id;
    show(ui.success);
    ui.success.focus();
    notifyParent("payment_success", { paymentId: payment.id });
  }

  function failed(payment, message) {
    ui.errorMessage.textContent = message;
    ui.retry.hidden = false;
    show(ui.error);
    ui.retry.focus();
    notifyParent("payment_failed", {
      paymentId: payment ? payment.id : null,
      code: payment ? payment.error_code : null,
      description: message
    });
  }

  // Polling gave up while the payment is still pending: it may yet succeed, so tell nobody it
  // failed and offer no retry (a second payment could be charged too).
  function stillPending() {
    ui.errorMessage.textContent = "Your bank has not confirmed this payment yet. Please do " +
      "not pay again: the merchant will be told the result.";
    ui.retry.hidden = true;
    show(ui.error);
    ui.error.focus();
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
      var payment = result.body;
      ui.cvv.value = "";
      ui.processingMessage.textContent = "Processing your payment\u2026 Please do not close " +
        "this window.";
      show(ui.processing);
      return poll(payment.id, Date.now()).then(function (final) {
        setBusy(false);
        if (!final) {
          stillPending();
        } else if (final.status === "success") {
          succeeded(final);
        } else {
          failed(final, final.error_description || "The payment failed.");
        }
      });
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
    show(ui.pay);
    (state.method === "upi" ? ui.vpa : ui.cardNumber).focus();
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

  selectMethod("upi");
  loadOrder(0);
})();
