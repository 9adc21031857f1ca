"""The article's service hours under the simulated clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from core import clock
from core.service_hours import estimated_wait_minutes, human_availability, open_channels_now, reopens_text


def at(clock_time: str) -> datetime:
    return clock.parse_iso_datetime(f"2026-11-25T{clock_time}:00+08:00")


@pytest.mark.parametrize(
    "moment, on_duty, peak, reopens",
    [
        ("08:59", False, False, "今天 9:00"),
        ("09:00", True, False, "明天 9:00"),
        ("10:00", True, False, "明天 9:00"),
        ("20:00", True, True, "明天 9:00"),
        ("21:00", False, False, "明天 9:00"),
        ("22:30", False, False, "明天 9:00"),
        ("02:00", False, False, "今天 9:00"),
    ],
)
def test_human_agents_work_9_to_21(moment, on_duty, peak, reopens) -> None:
    availability = human_availability(at(moment))
    assert (availability.on_duty, availability.peak, reopens_text(availability)) == (
        on_duty,
        peak,
        reopens,
    )
    assert availability.hours == "9:00-21:00"


def test_phone_line_is_the_open_channel_until_23() -> None:
    assert open_channels_now(at("22:30"))[0] == "hotline"
    assert "hotline" not in open_channels_now(at("23:00"))
    assert open_channels_now(at("02:00"))[0] == "feedback_email"


def test_wait_grows_with_position_and_caps_at_peak() -> None:
    assert estimated_wait_minutes(1, peak=False) == (2, 5)
    assert estimated_wait_minutes(3, peak=False) == (6, 15)
    assert estimated_wait_minutes(20, peak=True) == (30, 30)


def test_sim_now_accepts_utc_and_converts_to_beijing_time() -> None:
    now = clock.now({"CS_SIM_NOW": "2026-11-25T14:30:00Z"})
    assert (now.hour, now.minute, now.utcoffset().total_seconds()) == (22, 30, 8 * 3600)


@pytest.mark.parametrize("bad", ["tomorrow", "2026-11-25T10:00:00", "25:00"])
def test_bad_sim_now_falls_back_to_real_time(bad) -> None:
    before = datetime.now(clock.SERVICE_TIMEZONE)
    now = clock.now({"CS_SIM_NOW": bad})
    assert abs((now - before).total_seconds()) < 60


def test_clock_file_is_read_at_every_call(tmp_path) -> None:
    clock_file = tmp_path / "now"
    environ = {"CS_SIM_CLOCK_FILE": str(clock_file)}
    clock_file.write_text("2026-11-25T08:15:00+08:00")
    assert clock.now(environ).strftime("%H:%M") == "08:15"
    clock_file.write_text("2026-11-25T21:45:00+08:00")
    assert clock.now(environ).strftime("%H:%M") == "21:45"
