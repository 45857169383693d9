"""The price advisor's recovered elasticity per product at 1,000,000 orders, against the
generator's −1.6, and the idle rollup refresh: `python -m benchmarks.run analytics_prices`
(see `benchmarks.bench_analytics._refresh_and_prices`)."""

from benchmarks.bench_analytics import run_prices as run

__all__ = ["run"]
