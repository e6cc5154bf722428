"""Paystate: a payment gateway whose payments, refunds and webhook deliveries are persisted state machines."""
