"""The time every service-hours decision uses: real time in Asia/Shanghai, or the simulated clock.

CS_SIM_NOW (ISO 8601 with an offset, e.g. 2026-11-25T22:30:00+08:00) fixes "now" so tests and demos
can play any hour of the day. CS_SIM_CLOCK_FILE names a file holding such a time instead, read at every
call: `make simulate` advances it to play a whole day through running servers.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, time
from pathlib import Path
from typing import Optional

from zoneinfo import ZoneInfo

SIM_NOW_VARIABLE = "CS_SIM_NOW"
SIM_CLOCK_FILE_VARIABLE = "CS_SIM_CLOCK_FILE"
SERVICE_TIMEZONE = ZoneInfo("Asia/Shanghai")

logger = logging.getLogger(__name__)


def parse_iso_datetime(value: str) -> datetime:
    """Parses ISO 8601 with a UTC offset ("Z" allowed). Raises ValueError for anything else."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (e.g. +08:00)")
    return parsed


def now(environ: Optional[dict] = None) -> datetime:
    """Current time in the service's timezone, simulated when CS_SIM_NOW is set and valid."""
    environ = environ if environ is not None else os.environ
    raw = environ.get(SIM_NOW_VARIABLE)
    clock_file = environ.get(SIM_CLOCK_FILE_VARIABLE)
    if clock_file:
        try:
            raw = Path(clock_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            logger.error(
                "Cannot read %s=%s (%s); using the real time.", SIM_CLOCK_FILE_VARIABLE, clock_file, error
            )
    if raw:
        try:
            return parse_iso_datetime(raw).astimezone(SERVICE_TIMEZONE)
        except ValueError as error:
            logger.error("Ignoring %s=%r (%s); using the real time.", SIM_NOW_VARIABLE, raw, error)
    return datetime.now(SERVICE_TIMEZONE)


def parse_clock_time(value: str) -> time:
    """'9:00' or '09:00' to a time; '24:00' is not accepted."""
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))
