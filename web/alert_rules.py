"""The ops alerts' rules, as configuration (`alert_rules` in the config file or
`YUNLIAN_ALERT_RULES` as JSON). Each rule may be switched off with `"enabled": false`; a key
left out keeps its default. The defaults are the issue's:

- a room below 22 fps for 10 s;
- a room stalled (no frame for 3 s);
- a TTS or LLM backend failing (a fallback in the last 10 s);
- the HTTP error rate (5xx) above 1 % over the last minute;
- disk below 10 % free;
- the payment webhook silent for 10 min while payments wait;
- a room worker restarted."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    severity: str = Field(default="warning", pattern=r"^(info|warning|critical)$")


class FpsRule(_Rule):
    fps: float = Field(default=22.0, gt=0, le=120)
    for_s: float = Field(default=10.0, ge=0, le=3600)


class StallRule(_Rule):
    severity: str = Field(default="critical", pattern=r"^(info|warning|critical)$")
    after_s: float = Field(default=3.0, gt=0, le=3600)


class BackendRule(_Rule):
    fallbacks: int = Field(default=1, ge=1)  # fallbacks or failures in the last 10 s


class ErrorRateRule(_Rule):
    above: float = Field(default=0.01, ge=0, le=1)
    window_s: float = Field(default=60.0, ge=5, le=3600)
    min_requests: int = Field(default=20, ge=1)


class DiskRule(_Rule):
    severity: str = Field(default="critical", pattern=r"^(info|warning|critical)$")
    free_pct: float = Field(default=10.0, ge=0, le=100)


class PaymentsRule(_Rule):
    silent_s: float = Field(default=600.0, ge=10, le=86400)


class WorkerRule(_Rule):
    hold_s: float = Field(default=60.0, ge=1, le=3600)  # shown active this long, then resolved


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fps_low: FpsRule = Field(default_factory=FpsRule)
    room_stalled: StallRule = Field(default_factory=StallRule)
    backend_failing: BackendRule = Field(default_factory=BackendRule)
    error_rate: ErrorRateRule = Field(default_factory=ErrorRateRule)
    disk_low: DiskRule = Field(default_factory=DiskRule)
    payments_silent: PaymentsRule = Field(default_factory=PaymentsRule)
    worker_restarted: WorkerRule = Field(default_factory=WorkerRule)
    clear_s: float = Field(default=3.0, ge=0, le=600)  # a condition must be gone this long

    @property
    def payments_silent_s(self) -> float:
        return self.payments_silent.silent_s
