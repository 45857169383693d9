"""Analytics: what sold, where and to whom; what will sell next; what to do about it.

Modules: `metrics` (the livestream-commerce definitions), `rollup` (daily rollups kept as
orders change), `history` (deterministic demo history), `reports`, `rfm`, `forecast`,
`stock`, `pricing`, `basket`, `live`; `rooms` is the per-room sales split the store serves.
Heavy dependencies (pandas, statsmodels) load only in the modules that need them.
"""

from commerce.analytics.basket import also_bought, recommended_lineup
from commerce.analytics.rooms import SOLD, room_sales

__all__ = ["SOLD", "also_bought", "recommended_lineup", "room_sales"]
