"""Who decides how a payment ends, and when: the acquirer for live payments, the instrument for
test-mode ones.

``Acquirer`` is the one interface to a bank; ``SimulatedBank`` (the seed's: a uniform delay,
a success rate per method, the plain decline) is its one implementation today. ``PaymentModes``
routes each payment: in test mode (``TEST_MODE=true``: every payment, until merchants have
modes of their own) the outcome its instrument decided at creation is stored on the payment
and applied at settlement, after ``TEST_PROCESSING_DELAY``; otherwise the acquirer chooses the
delay at creation and the outcome at settlement. Randomness is the caller's generator. Called
on shard threads (creation) and the settlement processor's threads (settlement); all of it
is immutable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from ..machines.instruments import TEST_SUCCESS, settled_as
from ..machines.payment import APPROVED, DECLINED, DECLINED_CODE, Outcome


class Acquirer(Protocol):
    def delay_ms(self, method: str, rng: random.Random) -> int:
        """How long after its creation a payment of ``method`` is settled."""
        ...

    def decide(self, method: str, rng: random.Random) -> Outcome:
        """The bank's answer, when the payment's delay is over."""
        ...


@dataclass(frozen=True)
class SimulatedBank:
    """The seed's bank: answers after a uniform delay, approves at a rate per method
    (``UPI_SUCCESS_RATE``, ``CARD_SUCCESS_RATE``), declines with PAYMENT_FAILED."""

    upi_rate: float
    card_rate: float
    delay_min_ms: int
    delay_max_ms: int

    def delay_ms(self, method: str, rng: random.Random) -> int:
        return rng.randint(self.delay_min_ms, self.delay_max_ms)

    def decide(self, method: str, rng: random.Random) -> Outcome:
        rate = self.upi_rate if method == "upi" else self.card_rate
        return APPROVED if rng.random() < rate else DECLINED


@dataclass(frozen=True)
class PaymentModes:
    """Which payments are processed in test mode, and how each mode decides."""

    acquirer: Acquirer
    test_mode: bool  # TEST_MODE: every payment is a test-mode payment
    test_delay_ms: int  # TEST_PROCESSING_DELAY
    test_success: bool  # TEST_PAYMENT_SUCCESS: false fails every test-mode payment

    def at_creation(self, method: str, instrument_outcome: str, livemode: bool,
                    rng: random.Random) -> tuple[str | None, int]:
        """(the test outcome to store on the payment, None for a live one; its delay in ms).
        A test-mode payment (``livemode`` false, or any payment where TEST_MODE is on) is
        decided by its instrument, a live-mode one by the acquirer."""
        if livemode and not self.test_mode:
            return None, self.acquirer.delay_ms(method, rng)
        return (instrument_outcome if self.test_success else DECLINED_CODE), self.test_delay_ms

    def at_settlement(self, method: str, test_outcome: str | None,
                      rng: random.Random) -> Outcome:
        """How a pending payment ends, given what was stored at its creation."""
        if test_outcome is None and self.test_mode:
            # Created before test outcomes were stored (migration 011): TEST_MODE's old rule.
            test_outcome = TEST_SUCCESS if self.test_success else DECLINED_CODE
        if test_outcome is not None:
            return settled_as(test_outcome)
        return self.acquirer.decide(method, rng)
