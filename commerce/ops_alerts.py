"""Ops alerts as stored rows: fired, resolved, and each webhook attempt counted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from commerce.db import Database
from commerce.models import OpsAlert


class OpsAlertRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def fired(
        self, rule: str, subject: str, severity: str, message: str, at: datetime
    ) -> int:
        async with self.db.write() as s:
            row = OpsAlert(
                rule=rule[:32],
                subject=subject[:96],
                severity=severity[:16],
                message=message[:500],
                fired_at=at,
                attempts=0,
                delivered=0,
            )
            s.add(row)
            await s.flush()
            return row.id

    async def resolved(self, alert_id: int, at: datetime) -> None:
        async with self.db.write() as s:
            await s.execute(update(OpsAlert).where(OpsAlert.id == alert_id).values(resolved_at=at))

    async def attempt(self, alert_id: int, delivered: bool, error: str | None) -> None:
        values = {"attempts": OpsAlert.attempts + 1}
        if delivered:
            values["delivered"] = OpsAlert.delivered + 1
        else:
            values["last_error"] = (error or "")[:200]
        async with self.db.write() as s:
            await s.execute(update(OpsAlert).where(OpsAlert.id == alert_id).values(**values))

    async def history(self, limit: int = 50) -> list[dict]:
        async with self.db.read() as s:
            rows = (
                await s.scalars(
                    select(OpsAlert)
                    .order_by(OpsAlert.fired_at.desc(), OpsAlert.id.desc())
                    .limit(limit)
                )
            ).all()
        return [
            {
                "id": r.id,
                "rule": r.rule,
                "subject": r.subject,
                "severity": r.severity,
                "message": r.message,
                "fired_at": r.fired_at.isoformat() + "Z",
                "resolved_at": r.resolved_at.isoformat() + "Z" if r.resolved_at else None,
                "attempts": r.attempts,
                "delivered": r.delivered,
                "last_error": r.last_error,
            }
            for r in rows
        ]
