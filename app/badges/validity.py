"""A credential's validity period: its badges expire N calendar months after their award."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (the month's last day when it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expires_at(validity_months: int | None, issued_at: datetime) -> datetime | None:
    """When a badge awarded at `issued_at` expires; None for a credential without a period."""
    return add_months(issued_at, validity_months) if validity_months else None
