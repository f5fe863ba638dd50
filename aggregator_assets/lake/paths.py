"""Hive-style partition paths. Only topic and table names reach a path, never record values."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_HOUR_RE = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})")
_SAFE_SEGMENT_RE = re.compile(r"[A-Za-z0-9._=-]+")


def safe_segment(name: str) -> str:
    """Refuse path segments that could escape the lake ('..', '/', empty, odd characters)."""
    if not _SAFE_SEGMENT_RE.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"{name!r} cannot be used as a lake path segment")
    return name


def hour_path(*prefix: str, hour: datetime) -> str:
    """'raw/iot-events/year=2026/month=11/day=23/hour=10' for a UTC hour."""
    hour = hour.astimezone(timezone.utc)
    parts = [safe_segment(p) for p in prefix]
    parts.append(f"year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}")
    return "/".join(parts)


def day_path(*prefix: str, day: datetime) -> str:
    """'trips/vehicle-can/year=2026/month=11/day=23' for a UTC day."""
    parts = [safe_segment(p) for p in prefix]
    parts.append(f"year={day:%Y}/month={day:%m}/day={day:%d}")
    return "/".join(parts)


def parse_hour_path(path: str) -> datetime | None:
    match = _HOUR_RE.search(path)
    if not match:
        return None
    y, mo, d, h = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, tzinfo=timezone.utc)
