"""Decides, from knowledge/handoff.yml and the clock, whether humans are on duty and what is open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import List, Tuple

from core import knowledge
from core.clock import parse_clock_time


def within(moment: time, open_at: str, close_at: str) -> bool:
    """True when `moment` is in [open, close) of the same day."""
    return parse_clock_time(open_at) <= moment < parse_clock_time(close_at)


@dataclass(frozen=True)
class HumanAvailability:
    on_duty: bool
    peak: bool
    hours: str  # e.g. "9:00-21:00"
    opens: str  # e.g. "9:00"
    opens_tomorrow: bool  # off duty after closing time: back the next morning


def human_availability(now: datetime) -> HumanAvailability:
    agents = knowledge.handoff_rules()["human_agents"]
    moment = now.timetz().replace(tzinfo=None)
    on_duty = within(moment, agents["open"], agents["close"])
    peak = on_duty and any(within(moment, start, end) for start, end in _peak_hours())
    opens = _short(agents["open"])
    return HumanAvailability(
        on_duty=on_duty,
        peak=peak,
        hours=f"{opens}-{_short(agents['close'])}",
        opens=opens,
        opens_tomorrow=moment >= parse_clock_time(agents["open"]),
    )


REOPENS = {"zh": ("今天 {opens}", "明天 {opens}"), "en": ("today at {opens}", "tomorrow at {opens}")}


def reopens_text(availability: HumanAvailability, language: str = "zh") -> str:
    """ "明天 9:00" / "tomorrow at 9:00": when the human agents are back."""
    today, tomorrow = REOPENS.get(language, REOPENS["zh"])
    return (tomorrow if availability.opens_tomorrow else today).format(opens=availability.opens)


def open_channels_now(now: datetime) -> List[str]:
    """Channel ids from the after-hours list that are reachable at `now`, in preference order."""
    moment = now.timetz().replace(tzinfo=None)
    return [
        entry["channel"]
        for entry in knowledge.handoff_rules()["after_hours"]
        if "open" not in entry or within(moment, entry["open"], entry["close"])
    ]


def estimated_wait_minutes(position: int, peak: bool) -> Tuple[int, int]:
    """(low, high) minutes for a queue position: 2-5 minutes per person ahead, 30 at most at peak."""
    agents = knowledge.handoff_rules()["human_agents"]
    low, high = (minutes * position for minutes in agents["wait_minutes_per_person"])
    if peak:
        return min(low, agents["peak_max_wait_minutes"]), agents["peak_max_wait_minutes"]
    return low, high


def _peak_hours() -> List[Tuple[str, str]]:
    return [tuple(pair) for pair in knowledge.handoff_rules()["peak_hours"]]


def _short(clock: str) -> str:
    """'09:00' -> '9:00' as the article writes it."""
    moment = parse_clock_time(clock)
    return f"{moment.hour}:{moment.minute:02d}"
