"""Property-based tests of the parsing of ticket numbers, clock times and the simulated clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from core import clock
from core.parsing import find_ticket_number, format_ticket_number, normalize_contact
from core.service_hours import human_availability, within

dates = st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date())
sequences = st.integers(min_value=0, max_value=999_999)
noise = st.text(alphabet=st.characters(blacklist_categories=("Nd", "Lu", "Ll")), max_size=20)


@given(dates, sequences, noise, noise)
def test_a_formatted_ticket_number_is_found_inside_any_text(date, sequence, before, after) -> None:
    number = format_ticket_number("DY", date.strftime("%Y%m%d"), sequence)
    assert find_ticket_number(f"{before}{number}{after}") == number
    assert find_ticket_number(f"{before}{number.lower().replace('-', ' ')}{after}") == number


@given(st.text(max_size=60))
def test_whatever_is_found_is_canonical(text) -> None:
    found = find_ticket_number(text)
    assert found is None or (len(found) == 17 and found.startswith("DY") and found[10] == "-")


@given(st.integers(0, 23), st.integers(0, 59))
def test_clock_times_parse_with_or_without_a_leading_zero(hour, minute) -> None:
    assert clock.parse_clock_time(f"{hour}:{minute:02d}") == time(hour, minute)
    assert clock.parse_clock_time(f"{hour:02d}:{minute:02d}") == time(hour, minute)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
    st.integers(-12 * 60, 14 * 60),
)
def test_sim_now_is_the_same_instant_in_beijing_time(moment, offset_minutes) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    given_time = moment.replace(tzinfo=zone, microsecond=0)
    now = clock.now({clock.SIM_NOW_VARIABLE: given_time.isoformat()})
    assert now == given_time
    assert now.utcoffset() == timedelta(hours=8)


@given(st.text(max_size=30))
def test_garbage_sim_now_never_crashes(value) -> None:
    assert clock.now({clock.SIM_NOW_VARIABLE: value}).tzinfo is not None


@given(st.times())
def test_humans_are_on_duty_exactly_from_9_to_21(moment) -> None:
    now = datetime(2026, 11, 25, tzinfo=clock.SERVICE_TIMEZONE).replace(
        hour=moment.hour, minute=moment.minute, second=moment.second
    )
    assert human_availability(now).on_duty == (9 <= moment.hour < 21)
    assert within(moment.replace(microsecond=0, tzinfo=None), "09:00", "21:00") == (9 <= moment.hour < 21)


@given(st.text(max_size=40))
def test_contacts_are_cleaned_or_refused_never_raised(value) -> None:
    for channel in ("phone", "email", "app"):
        cleaned = normalize_contact(channel, value)
        assert cleaned is None or (cleaned != "" and cleaned == cleaned.strip() and len(cleaned) <= 64)
