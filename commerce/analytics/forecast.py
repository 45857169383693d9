"""Daily unit forecasts per product: exponential smoothing with weekly seasonality and holidays.

Model: holidays (Spring Festival gifting and courier break, 双11, National Day) act as
multiplicative factors. Each factor is the median ratio of holiday days to a rolling median
of ordinary days; the series is divided by its factors, Holt-Winters (statsmodels
`ExponentialSmoothing`, damped additive trend, additive weekly season m=7) is fitted to what
is left, and the forecast is multiplied by the factors of the days ahead. The prediction
interval is the normal approximation of the ETS(A,Ad,A) error, σ²·(1 + (h−1)·α²), scaled
by the same factors and floored at zero.

Backtest: rolling origin against seasonal naive (ŷ[t+h] = y[t+h−7k]), scored with MASE
(scale: in-sample MAE of the one-step seasonal naive on each training set) and WAPE.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from commerce.analytics.calendar import HOLIDAY_KINDS, holiday_kind

Z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96}
MIN_DAYS = 28


@dataclass
class Forecast:
    """Point forecast and interval per future day, with what the model learned."""

    days: list[str]
    mean: list[float]
    lower: list[float]
    upper: list[float]
    level: float
    model: str
    holiday_factors: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _kinds(index: pd.DatetimeIndex) -> np.ndarray:
    return np.array([holiday_kind(d.date()) or "" for d in index], dtype=object)


def holiday_factors(y: pd.Series, min_days: int = 3) -> dict[str, float]:
    """Per holiday kind: median of y / (rolling median of ordinary days), clipped to [0.2, 5]."""
    kinds = _kinds(y.index)
    ordinary = y.where(kinds == "")
    base = ordinary.rolling(29, center=True, min_periods=7).median()
    base = base.ffill().bfill()
    out = {}
    for k in HOLIDAY_KINDS:
        mask = (kinds == k) & (base.to_numpy() > 0)
        if mask.sum() >= min_days:
            ratio = float(np.median(y.to_numpy()[mask] / base.to_numpy()[mask]))
            out[k] = round(min(5.0, max(0.2, ratio)), 3)
    return out


def _factor_array(index: pd.DatetimeIndex, factors: dict[str, float]) -> np.ndarray:
    return np.array([factors.get(k, 1.0) if k else 1.0 for k in _kinds(index)])


def seasonal_naive(y: np.ndarray, horizon: int, m: int = 7) -> np.ndarray:
    """ŷ[t+h] = y[t+h−m·k] with k the smallest whole number of seasons back into the data."""
    n = len(y)
    return np.array([y[n - m + (h % m)] for h in range(horizon)], dtype=float)


def _fit(values: np.ndarray):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ExponentialSmoothing(
            values,
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=7,
            # initial level, trend and season from the first weeks rather than optimised with
            # the smoothing weights: 4 parameters instead of 12, about 5x faster a backtest
            initialization_method="heuristic",
        ).fit(optimized=True)


def forecast_series(
    y: pd.Series, horizon: int = 14, level: float = 0.9, window: int = 365
) -> Forecast:
    """Forecast `horizon` days after the series' last day (daily DatetimeIndex, no gaps)."""
    if not 1 <= horizon <= 60:
        raise ValueError("预测天数必须在1到60之间")
    y = y.astype(float).iloc[-window:]
    future = pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    days = [d.date().isoformat() for d in future]
    if len(y) < MIN_DAYS or y.sum() == 0:
        mean = np.full(horizon, float(y.mean()) if len(y) else 0.0)
        return Forecast(days, _r(mean), _r(mean), _r(mean), level, "mean (history too short)")
    factors = holiday_factors(y)
    past_f = _factor_array(y.index, factors)
    fut_f = _factor_array(future, factors)
    fit = _fit(y.to_numpy() / past_f)
    base = np.asarray(fit.forecast(horizon))
    resid = y.to_numpy() / past_f - np.asarray(fit.fittedvalues)
    sigma = float(np.std(resid[7:], ddof=1)) if len(resid) > 8 else float(np.std(resid))
    alpha = float(fit.params.get("smoothing_level", 0.5) or 0.5)
    h = np.arange(1, horizon + 1)
    half = Z.get(level, 1.6449) * sigma * np.sqrt(1 + (h - 1) * alpha**2)
    mean = np.maximum(base, 0) * fut_f
    lower = np.maximum(base - half, 0) * fut_f
    upper = np.maximum(base + half, 0) * fut_f
    return Forecast(
        days, _r(mean), _r(lower), _r(upper), level, "ETS(A,Ad,A) m=7 + holiday factors", factors
    )


def _r(a) -> list[float]:
    return [round(float(x), 2) for x in a]


def backtest(y: pd.Series, horizon: int = 7, origins: int = 8, step: int = 7, m: int = 7) -> dict:
    """Rolling-origin MASE and WAPE of the model and of seasonal naive (m=7)."""
    values = y.astype(float).to_numpy()
    n = len(values)
    err = {"model": [], "naive": []}
    mase = {"model": [], "naive": []}
    actual_sum = 0.0
    used = 0
    # where the gain over seasonal naive comes from: test weeks with a holiday day vs the rest
    split = {w: {"weeks": 0, "model_err": 0.0, "naive_err": 0.0, "actual": 0.0} for w in WEEKS}
    for k in range(origins):
        origin = n - horizon - k * step
        if origin < max(MIN_DAYS, 2 * m + 1):
            break
        train, test = y.iloc[:origin], values[origin : origin + horizon]
        tr = train.to_numpy()
        scale = float(np.mean(np.abs(tr[m:] - tr[:-m])))
        if scale == 0:
            continue
        preds = {
            "model": np.array(forecast_series(train, horizon).mean),
            "naive": seasonal_naive(tr, horizon, m),
        }
        week = "holiday" if any(_kinds(y.index[origin : origin + horizon])) else "ordinary"
        split[week]["weeks"] += 1
        split[week]["actual"] += float(np.abs(test).sum())
        for name, p in preds.items():
            e = np.abs(test - p)
            err[name].append(float(e.sum()))
            mase[name].append(float(e.mean()) / scale)
            split[week][f"{name}_err"] += float(e.sum())
        actual_sum += float(np.abs(test).sum())
        used += 1
    if not used:
        return {"origins": 0, "horizon": horizon, "model": None, "naive": None}
    return {
        "origins": used,
        "horizon": horizon,
        **{
            name: {
                "mase": round(float(np.mean(mase[name])), 3),
                "wape": round(sum(err[name]) / actual_sum, 3) if actual_sum else None,
            }
            for name in ("model", "naive")
        },
        "gain": gain_split(split),
    }


WEEKS = ("holiday", "ordinary")


def gain_split(split: dict) -> dict:
    """Absolute error saved over seasonal naive (units), in holiday weeks and the rest, and
    the holiday weeks' share of the whole saving (None when the model saved nothing)."""
    out: dict = {}
    for w in WEEKS:
        g = split[w]
        saved = g["naive_err"] - g["model_err"]
        out[w] = {
            "weeks": g["weeks"],
            "saved_units": round(saved, 1),
            "model_wape": round(g["model_err"] / g["actual"], 3) if g["actual"] else None,
            "naive_wape": round(g["naive_err"] / g["actual"], 3) if g["actual"] else None,
        }
    total = out["holiday"]["saved_units"] + out["ordinary"]["saved_units"]
    out["holiday_share"] = round(out["holiday"]["saved_units"] / total, 3) if total > 0 else None
    return out


async def daily_units(s, sku: str, end: date, days: int = 730) -> pd.Series | None:
    """Paid units per China day for one SKU (zeros filled); None for an unknown SKU."""
    from sqlalchemy import select

    from commerce.models import AnDaySku, Sku

    sku_id = (await s.execute(select(Sku.id).where(Sku.code == sku))).scalar_one_or_none()
    if sku_id is None:
        return None
    start = end - timedelta(days=days - 1)
    rows = await s.execute(
        select(AnDaySku.day, AnDaySku.paid_units).where(
            AnDaySku.sku_id == sku_id, AnDaySku.day.between(start, end)
        )
    )
    data = {pd.Timestamp(d): int(u) for d, u in rows}
    if not data:
        return pd.Series(dtype=float)
    first = min(data)
    idx = pd.date_range(first, pd.Timestamp(end), freq="D")
    return pd.Series([data.get(t, 0) for t in idx], index=idx, dtype=float)
