"""Session times: relative and absolute forms in the learner's timezone, daylight saving, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.pairing.when import MAX_AHEAD, parse_when

# Friday 6 March 2026, 16:20:30 in Lagos (UTC+1).
FRIDAY = datetime(2026, 3, 6, 15, 20, 30, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HINT = "Try `tomorrow 18:00`"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow 18:00", utc(2026, 3, 7, 17, 0)),
        ("Tomorrow at 6pm", utc(2026, 3, 7, 17, 0)),
        ("tmrw 7:30am", utc(2026, 3, 7, 6, 30)),
        ("tomorrow noon", utc(2026, 3, 7, 11, 0)),
        ("today 9pm", utc(2026, 3, 6, 20, 0)),
        ("today 21.30", utc(2026, 3, 6, 20, 30)),
        ("Fri 20:00", utc(2026, 3, 6, 19, 0)),  # today is Friday and 20:00 is still ahead
        ("friday 10:00", utc(2026, 3, 13, 9, 0)),  # 10:00 has passed: next week's
        ("8pm on friday", utc(2026, 3, 6, 19, 0)),
        ("sat 9", utc(2026, 3, 7, 8, 0)),
        ("next monday 10:00", utc(2026, 3, 9, 9, 0)),
        ("next friday 20:00", utc(2026, 3, 13, 19, 0)),  # "next" is never today
        ("this friday 20:00", utc(2026, 3, 6, 19, 0)),
        ("Thursday 18:00", utc(2026, 3, 12, 17, 0)),
        ("19:30", utc(2026, 3, 6, 18, 30)),  # a time alone: today's if still ahead
        ("at 9am", utc(2026, 3, 7, 8, 0)),  # or tomorrow's
        ("2026-04-03 19:30", utc(2026, 4, 3, 18, 30)),
        ("3 Apr 19:30", utc(2026, 4, 3, 18, 30)),
        ("Apr 3 7:30pm", utc(2026, 4, 3, 18, 30)),
        ("25/03/2026 10:00", utc(2026, 3, 25, 9, 0)),  # unambiguous: there is no 25th month
        ("in 2 hours", utc(2026, 3, 6, 17, 20)),
        ("in 30 minutes", utc(2026, 3, 6, 15, 50)),
        ("in 1 hour and 15 mins", utc(2026, 3, 6, 16, 35)),
        ("in an hour", utc(2026, 3, 6, 16, 20)),
        ("in 3 days", utc(2026, 3, 9, 15, 20)),
    ],
)
def test_forms_in_lagos(text: str, expected: datetime) -> None:
    assert parse_when(text, "Africa/Lagos", now=FRIDAY) == expected


@pytest.mark.parametrize("text", ["3 Dec 19:30", "Dec 3 7:30pm", "2026-12-03 19:30", "3rd december, 19:30"])
def test_the_issue_examples(text: str) -> None:
    assert parse_when(text, "UTC", now=NOVEMBER) == utc(2026, 12, 3, 19, 30)


def test_a_date_without_a_year_means_the_next_one() -> None:
    december = utc(2026, 12, 20, 12)
    assert parse_when("3 Jan 10:00", "UTC", now=december) == utc(2027, 1, 3, 10, 0)
    with pytest.raises(ValueError, match="already passed"):
        parse_when("2026-01-03 10:00", "UTC", now=december)
    with pytest.raises(ValueError, match="already passed"):  # not next January, nine months ahead
        parse_when("3 Jan 10:00", "UTC", now=utc(2026, 3, 20))


def test_the_result_is_aware_utc_on_the_minute() -> None:
    result = parse_when("in 30 minutes", "Asia/Kolkata", now=FRIDAY)
    assert result.tzinfo is UTC
    assert (result.second, result.microsecond) == (0, 0)


def test_the_timezone_accepts_cities() -> None:
    assert parse_when("tomorrow 18:00", "Abuja", now=FRIDAY) == utc(2026, 3, 7, 17, 0)


# --- daylight saving --------------------------------------------------------------------------------------


def test_the_offset_is_the_one_on_that_day() -> None:
    # New York springs forward on Sunday 8 March 2026: Saturday is UTC-5, Monday UTC-4.
    assert parse_when("sat 18:00", "America/New_York", now=FRIDAY) == utc(2026, 3, 7, 23, 0)
    assert parse_when("mon 18:00", "America/New_York", now=FRIDAY) == utc(2026, 3, 9, 22, 0)


def test_a_time_the_clocks_skip_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match=r"02:30 does not exist on Sun 08 Mar 2026 .* such as 03:30") as caught:
        parse_when("2026-03-08 02:30", "America/New_York", now=FRIDAY)
    assert HINT in str(caught.value)
    with pytest.raises(ValueError, match="does not exist"):
        parse_when("sun 2:30am", "America/New_York", now=FRIDAY)


def test_a_time_that_happens_twice_means_the_first() -> None:
    # New York falls back on Sunday 1 November 2026: 01:30 happens at 05:30 UTC (EDT), then 06:30 (EST).
    october = utc(2026, 10, 20)
    assert parse_when("2026-11-01 01:30", "America/New_York", now=october) == utc(2026, 11, 1, 5, 30)


# --- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "When?"),
        ("   ", "When?"),
        ("today 9am", "already passed"),
        ("2026-03-06 10:00", "already passed (Fri 06 Mar 2026 10:00 your time)"),
        ("2026-12-03 19:30", "more than 90 days ahead"),
        ("in 91 days", "more than 90 days ahead"),
        ("in 999999 weeks", "more than 90 days ahead"),
        ("in 0 minutes", "give a time in the future"),
        ("tomorrow", "needs a time of day"),
        ("next friday", "needs a time of day"),
        ("3 Dec", "no time of day"),
        ("3rd 19:30", "needs both a day and a month"),
        ("03/04/2026 10:00", "either of two dates"),
        ("fri 25:00", "hours go from 0 to 23"),
        ("fri 13pm", "from 1 to 12"),
        ("fri 10:75", "more than 59 minutes"),
        ("next tomorrow 10:00", "not a day I know"),
        ("19:30 +02:00", "without a zone or offset"),
        ("whenever suits you", "couldn't read"),
        ("99999999999999999999", "couldn't read"),
        ("x" * 61, "longer than 60 characters"),
    ],
)
def test_refusals_say_why_and_give_examples(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=HINT) as caught:
        parse_when(text, "Africa/Lagos", now=FRIDAY)
    assert reason in str(caught.value)


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown timezone"):
        parse_when("tomorrow 18:00", "Mars/Olympus", now=FRIDAY)


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("tomorrow 18:00", "UTC", now=datetime(2026, 3, 6))  # noqa: DTZ001


# --- properties -------------------------------------------------------------------------------------------

ZONES = ("UTC", "Africa/Lagos", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Kiritimati")
nows = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= makes them aware
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
words = st.sampled_from(
    [
        "tomorrow",
        "today",
        "next",
        "this",
        "fri",
        "monday",
        "at",
        "on",
        "in",
        "hours",
        "minutes",
        "an",
        "hour",
        "dec",
        "3",
        "2026",
        "-",
        "/",
        ":",
        "pm",
        "am",
        "noon",
        "19:30",
        "7",
        "12",
        "2",
        "days",
        "30",
        "3rd",
        "12/25",
    ]
)


def check(text: str, zone: str, now: datetime) -> None:
    """A result is aware UTC, on the minute, after `now` and within 90 days; a refusal carries examples."""
    try:
        result = parse_when(text, zone, now=now)
    except ValueError as error:
        message = str(error)
    else:
        assert result.tzinfo is UTC
        assert now < result <= now + MAX_AHEAD
        assert (result.second, result.microsecond) == (0, 0)
        return
    assert HINT in message


@given(st.text(max_size=70), st.sampled_from(ZONES), nows)
def test_any_text_is_a_future_utc_time_or_a_value_error(text: str, zone: str, now: datetime) -> None:
    check(text, zone, now)


@given(st.lists(words, min_size=1, max_size=5).map(" ".join), st.sampled_from(ZONES), nows)
def test_near_misses_are_a_future_utc_time_or_a_value_error(text: str, zone: str, now: datetime) -> None:
    check(text, zone, now)


@given(
    st.sampled_from(["today", "tomorrow", "mon", "next sun", "thu", ""]),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 59]),
    st.sampled_from(ZONES),
    nows,
)
def test_day_and_time_give_that_wall_clock_time(day: str, hour: int, minute: int, zone: str, now: datetime) -> None:
    text = f"{day} {hour:02d}:{minute:02d}".strip()
    try:
        result = parse_when(text, zone, now=now)
    except ValueError as error:
        message = str(error)
    else:
        local = result.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (hour, minute)
        assert result - now <= timedelta(days=8)
        return
    assert "already passed" in message or "does not exist" in message
