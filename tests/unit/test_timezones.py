"""Timezones: IANA names in any case, cities, abbreviations and offsets; autocomplete ranking and its limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.pairing.timezones import (
    ABBREVIATIONS,
    CITY_ZONES,
    MAX_CHOICES,
    MAX_LABEL,
    POPULAR,
    all_zones,
    resolve_timezone,
    timezone_choices,
)

WINTER = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Africa/Lagos", "Africa/Lagos"),
        ("africa/lagos", "Africa/Lagos"),
        ("  AFRICA/LAGOS ", "Africa/Lagos"),
        ("America/New York", "America/New_York"),
        ("America/NewYork", "America/New_York"),
        ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
        ("Africa/Porto-Novo", "Africa/Porto-Novo"),
        ("UTC", "UTC"),
        ("Etc/GMT-3", "Etc/GMT-3"),
    ],
)
def test_iana_names_in_any_case(text: str, zone: str) -> None:
    assert resolve_timezone(text) == zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Abuja", "Africa/Lagos"),
        ("port harcourt", "Africa/Lagos"),
        ("Kigali", "Africa/Kigali"),
        ("Addis Ababa", "Africa/Addis_Ababa"),
        ("addis_ababa", "Africa/Addis_Ababa"),
        ("Dar es Salaam", "Africa/Dar_es_Salaam"),
        ("LosAngeles", "America/Los_Angeles"),
        ("Kampala", "Africa/Kampala"),
        ("Nairobi", "Africa/Nairobi"),
        ("Cape Town", "Africa/Johannesburg"),
        ("Yaound\u00e9", "Africa/Douala"),  # accents are optional
        ("Mumbai", "Asia/Kolkata"),
        ("Delhi", "Asia/Kolkata"),
        ("Bangalore", "Asia/Kolkata"),
        ("New York", "America/New_York"),
        ("San Francisco", "America/Los_Angeles"),
        ("London", "Europe/London"),
        ("Berlin", "Europe/Berlin"),
        ("S\u00e3o Paulo", "America/Sao_Paulo"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
        ("Tokyo", "Asia/Tokyo"),  # any zone's own city, from the zone names
        ("Ho Chi Minh", "Asia/Ho_Chi_Minh"),
    ],
)
def test_city_names(text: str, zone: str) -> None:
    assert resolve_timezone(text) == zone


def test_the_city_table_is_large_and_valid() -> None:
    assert len(CITY_ZONES) >= 40
    assert sum(zone.startswith("Africa/") for zone in CITY_ZONES.values()) >= 40
    assert set(CITY_ZONES.values()) | set(ABBREVIATIONS.values()) | set(POPULAR) <= all_zones()


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("UTC+1", "Etc/GMT-1"),  # the Etc zones count the other way round
        ("utc +1", "Etc/GMT-1"),
        ("GMT+3", "Etc/GMT-3"),
        ("UTC-5", "Etc/GMT+5"),
        ("UTC\u22125", "Etc/GMT+5"),  # a typographic minus
        ("+01:00", "Etc/GMT-1"),
        ("+14", "Etc/GMT-14"),
        ("-12:00", "Etc/GMT+12"),
        ("+05:30", "Asia/Kolkata"),
        ("GMT+0530", "Asia/Kolkata"),
        ("+05:45", "Asia/Kathmandu"),
        ("UTC-3:30", "America/St_Johns"),
        ("UTC+0", "UTC"),
        ("GMT", "UTC"),
        ("utc", "UTC"),
    ],
)
def test_offsets(text: str, zone: str) -> None:
    assert resolve_timezone(text) == zone


@pytest.mark.parametrize("hours", range(-12, 15))
def test_whole_hour_offsets_keep_that_offset(hours: int) -> None:
    zone = ZoneInfo(resolve_timezone(f"UTC{hours:+d}"))
    assert WINTER.astimezone(zone).utcoffset() == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("text", "zone"), [("WAT", "Africa/Lagos"), ("EAT", "Africa/Nairobi"), ("EST", "America/New_York")]
)
def test_abbreviations(text: str, zone: str) -> None:
    assert resolve_timezone(text) == zone


@pytest.mark.parametrize("text", ["Mars/Olympus", "Atlantis", "UTC+15", "+05:17", "UTC+1:75", "Africa", "localtime"])
def test_unknown_timezones_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"(Unknown timezone|No timezone has the offset) .*Try `Africa/Lagos`"):
        resolve_timezone(text)


def test_an_empty_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Try `Africa/Lagos`"):
        resolve_timezone("   ")


def test_the_echo_of_a_bad_timezone_is_short_and_cannot_break_formatting() -> None:
    with pytest.raises(ValueError, match="Unknown timezone") as caught:
        resolve_timezone("`" * 500)
    assert "``" not in str(caught.value)
    assert len(str(caught.value)) < 200


# --- autocomplete -----------------------------------------------------------------------------------------


def values(query: str, limit: int = MAX_CHOICES) -> list[str]:
    return [value for _, value in timezone_choices(query, limit)]


def test_an_empty_query_offers_popular_zones() -> None:
    choices = timezone_choices("")
    assert [value for _, value in choices] == list(POPULAR)[:MAX_CHOICES]
    assert choices[0] == ("Africa/Lagos \u00b7 UTC+01:00", "Africa/Lagos")


def test_prefixes_come_first() -> None:
    assert values("lag")[0] == "Africa/Lagos"
    assert values("africa/n")[0] == "Africa/Nairobi"
    assert values("Europe/")[:2] == ["Europe/London", "Europe/Paris"]  # popular ones first among equals


def test_a_city_is_named_in_the_label() -> None:
    assert timezone_choices("Abuja")[0] == ("Africa/Lagos (Abuja) \u00b7 UTC+01:00", "Africa/Lagos")
    assert timezone_choices("mumbai")[0] == ("Asia/Kolkata (Mumbai) \u00b7 UTC+05:30", "Asia/Kolkata")


def test_labels_show_both_offsets_where_clocks_change() -> None:
    label, _ = timezone_choices("Europe/London")[0]
    assert label == "Europe/London \u00b7 UTC+00:00/+01:00"
    assert timezone_choices("Europe/Dublin")[0][0].endswith("UTC+00:00/+01:00")  # not fooled by Irish rules


def test_substrings_then_fuzzy_matches() -> None:
    assert "Africa/Dar_es_Salaam" in values("salaam")
    assert values("Nairbi")[0] == "Africa/Nairobi"
    assert values("Lndon")[0] == "Europe/London"


def test_an_offset_offers_its_zone_then_places_with_that_standard_offset() -> None:
    found = values("UTC+1")
    assert found[0] == "Etc/GMT-1"
    assert {"Africa/Lagos", "Europe/Berlin", "Africa/Casablanca"} <= set(found)
    assert "Europe/London" not in found  # UTC+1 only in summer


def test_no_duplicates_and_the_limit_holds() -> None:
    for query in ("a", "africa", "america/", "etc/gmt", "e"):
        found = values(query, 10)
        assert len(found) == 10
        assert len(set(found)) == len(found)
    assert timezone_choices("a", 0) == []
    assert len(timezone_choices("a", 500)) == MAX_CHOICES


def test_nothing_matches_nonsense() -> None:
    assert timezone_choices("qqqqqqqqqqqq") == []


@given(st.text(max_size=120), st.integers(-5, 40))
def test_autocomplete_never_raises_and_offers_only_valid_zones(query: str, limit: int) -> None:
    choices = timezone_choices(query, limit)
    assert len(choices) <= max(0, min(limit, MAX_CHOICES))
    for label, value in choices:
        assert 0 < len(label) <= MAX_LABEL
        assert value in all_zones()
        assert resolve_timezone(value) == value  # what autocomplete offers is accepted as is


@given(st.text(max_size=120))
def test_resolve_gives_a_zone_or_a_value_error(text: str) -> None:
    try:
        zone = resolve_timezone(text)
    except ValueError as error:
        message = str(error)
    else:
        assert zone in all_zones()
        ZoneInfo(zone)
        return
    assert "Try `Africa/Lagos`" in message
