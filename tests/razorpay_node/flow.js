// The Razorpay dialect driven by the official Node client (razorpay 2.9.x), unmodified.
// Run by tests/integration/test_razorpay_node.py with NODE_PATH pointing at the folder the
// test installed the package into; BASE_URL, KEY_ID and KEY_SECRET say where and who.
// Prints one JSON object describing what happened; the Python test asserts on it.
'use strict';

const Razorpay = require('razorpay');

const { BASE_URL, KEY_ID, KEY_SECRET } = process.env;
const DEADLINE_MS = 15000;

const instance = new Razorpay({ key_id: KEY_ID, key_secret: KEY_SECRET });
// The client fixes its host in the constructor; its axios instance takes another base URL.
instance.api.rq.defaults.baseURL = BASE_URL;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(fetch, done, what) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await fetch();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(100);
  }
}

async function refusal(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return { statusCode: err.statusCode, error: err.error };
  }
}

async function main() {
  const order = await instance.orders.create({ amount: 50000, currency: 'INR', receipt: 'node_1',
                                               notes: { customer: 'Asha' } });
  const fetchedOrder = await instance.orders.fetch(order.id);
  const listed = await instance.orders.all({ count: 100 });
  const created = await instance.payments.createUpi({
    amount: 50000, currency: 'INR', order_id: order.id, method: 'upi',
    email: 'shopper@example.com', contact: '9000090000',
    upi: { flow: 'collect', vpa: 'shopper@okbank', expiry_time: '5' },
  });
  const paymentId = created.razorpay_payment_id;
  const authorized = await until(() => instance.payments.fetch(paymentId),
                                 (p) => p.status !== 'created', 'the payment to settle');
  const orderPayments = await instance.orders.fetchPayments(order.id);
  const captured = await instance.payments.capture(paymentId, 50000, 'INR');
  const refund = await instance.payments.refund(paymentId, { amount: 10000 });
  const processed = await until(() => instance.refunds.fetch(refund.id),
                                (r) => r.status !== 'pending', 'the refund to settle');
  const refundsOfPayment = await instance.refunds.all({ payment_id: paymentId });
  const allRefunds = await instance.refunds.all({ count: 100 });
  const viaPayment = await instance.refunds.fetch(refund.id, { payment_id: paymentId });
  const after = await instance.payments.fetch(paymentId);
  const badAmount = await refusal(instance.orders.create({ amount: 50, currency: 'INR' }));
  const unknownId = await refusal(instance.orders.fetch('order_doesnotexist00'));
  const wrongCapture = await refusal(instance.payments.capture(paymentId, 100, 'INR'));

  const stranger = new Razorpay({ key_id: KEY_ID, key_secret: 'wrong' });
  stranger.api.rq.defaults.baseURL = BASE_URL;
  const badAuth = await refusal(stranger.orders.all());

  return {
    order, fetchedOrder, listedIds: listed.items.map((o) => o.id), created, authorized,
    orderPayments, captured, refund, processed, refundsOfPayment,
    allRefundIds: allRefunds.items.map((r) => r.id), viaPayment, after,
    badAmount, unknownId, wrongCapture, badAuth,
  };
}

main().then(
  (result) => { process.stdout.write(JSON.stringify(result)); },
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : JSON.stringify(err)}\n`);
    process.exit(1);
  },
);
