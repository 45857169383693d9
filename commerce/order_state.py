"""The order state machine: named states and named transitions, nothing else."""

from __future__ import annotations

UNPAID = "unpaid"
PAID = "paid"
SHIPPED = "shipped"
DELIVERED = "delivered"
COMPLETED = "completed"
CANCELLED = "cancelled"
REFUND_REQUESTED = "refund_requested"
REFUNDED = "refunded"

STATES = (UNPAID, PAID, SHIPPED, DELIVERED, COMPLETED, CANCELLED, REFUND_REQUESTED, REFUNDED)
FINAL = frozenset({COMPLETED, CANCELLED, REFUNDED})

# name -> (allowed source states, target state). reject_refund returns to the state it left.
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "pay": (frozenset({UNPAID}), PAID),
    "ship": (frozenset({PAID}), SHIPPED),
    "deliver": (frozenset({SHIPPED}), DELIVERED),
    "complete": (frozenset({DELIVERED}), COMPLETED),
    "cancel": (frozenset({UNPAID}), CANCELLED),
    "expire": (frozenset({UNPAID}), CANCELLED),
    "request_refund": (frozenset({PAID, SHIPPED, DELIVERED}), REFUND_REQUESTED),
    "approve_refund": (frozenset({REFUND_REQUESTED}), REFUNDED),
    "reject_refund": (frozenset({REFUND_REQUESTED}), None),
}
# Transitions a client may ask for over HTTP; pay and expire happen through payments and time.
PUBLIC_TRANSITIONS = (
    "ship",
    "deliver",
    "complete",
    "cancel",
    "request_refund",
    "approve_refund",
    "reject_refund",
)


def allowed(transition: str, status: str) -> bool:
    spec = TRANSITIONS.get(transition)
    return spec is not None and status in spec[0]


def target(transition: str, status: str, pre_refund: str | None) -> str:
    """The state after `transition` from `status` (caller has checked `allowed`)."""
    dest = TRANSITIONS[transition][1]
    return dest if dest is not None else (pre_refund or PAID)
