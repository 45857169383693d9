"""Commerce: catalog, stock, orders, payments, promotions and seed-to-table traceability."""

from commerce.errors import (
    CommerceError,
    InsufficientStock,
    InvalidTransition,
    NotFound,
)
from commerce.events import ShopEvent
from commerce.facts import ProductFacts
from commerce.store import Store, open_store

__all__ = [
    "CommerceError",
    "InsufficientStock",
    "InvalidTransition",
    "NotFound",
    "ProductFacts",
    "ShopEvent",
    "Store",
    "open_store",
]
