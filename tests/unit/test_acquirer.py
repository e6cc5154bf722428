"""Who decides a payment's outcome and delay: the instrument in test mode, the acquirer (the
simulated bank) otherwise. Pure: a seeded generator stands in for the bank's chance."""

from __future__ import annotations

import random

from paystate.engine.acquirer import PaymentModes, SimulatedBank
from paystate.machines.payment import APPROVED, DECLINED

BANK = SimulatedBank(upi_rate=0.9, card_rate=0.5, delay_min_ms=5000, delay_max_ms=10000)


def modes(test_mode: bool = True, test_success: bool = True) -> PaymentModes:
    return PaymentModes(acquirer=BANK, test_mode=test_mode, test_delay_ms=1000,
                        test_success=test_success)


def test_the_simulated_bank_waits_5_to_10_s_and_approves_at_its_rate_per_method() -> None:
    rng = random.Random(7)
    assert all(5000 <= BANK.delay_ms("upi", rng) <= 10000 for _ in range(1000))
    upi = [BANK.decide("upi", rng) for _ in range(4000)]
    card = [BANK.decide("card", rng) for _ in range(4000)]
    assert set(upi) | set(card) == {APPROVED, DECLINED}
    assert 0.87 < upi.count(APPROVED) / 4000 < 0.93
    assert 0.46 < card.count(APPROVED) / 4000 < 0.54


def test_test_mode_keeps_the_instruments_outcome_and_the_test_delay() -> None:
    rng = random.Random(1)
    for livemode in (False, True):  # TEST_MODE: every payment is a test-mode payment
        assert modes().at_creation("card", "CARD_DECLINED", livemode, rng) == (
            "CARD_DECLINED", 1000)
        assert modes().at_creation("upi", "success", livemode, rng) == ("success", 1000)
    outcome = modes().at_settlement("card", "CARD_DECLINED", rng)
    assert (outcome.approved, outcome.error_code) == (False, "CARD_DECLINED")
    assert modes().at_settlement("upi", "success", rng) == APPROVED


def test_test_payment_success_false_fails_every_test_payment() -> None:
    rng = random.Random(1)
    for decided in ("success", "CARD_DECLINED", "INSUFFICIENT_FUNDS"):
        assert modes(test_success=False).at_creation("card", decided, False, rng) == (
            "PAYMENT_FAILED", 1000)
    assert modes(test_success=False).at_settlement("upi", None, rng) == DECLINED


def test_outside_test_mode_live_payments_go_to_the_acquirer_and_test_ones_not() -> None:
    always = PaymentModes(acquirer=SimulatedBank(0.0, 0.0, 6000, 6000), test_mode=False,
                          test_delay_ms=1000, test_success=True)
    rng = random.Random(1)
    assert always.at_creation("card", "success", True, rng) == (None, 6000)
    # A test-mode (livemode false) payment is decided by its instrument whatever TEST_MODE says.
    assert always.at_creation("card", "CARD_DECLINED", False, rng) == ("CARD_DECLINED", 1000)
    assert always.at_settlement("card", None, rng) == DECLINED
