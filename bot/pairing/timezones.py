"""Timezones: what a learner types (`africa/lagos`, `Abuja`, `UTC+1`) as an IANA name, and autocomplete for it.

Pure: no clock, no files beyond the zone data that `zoneinfo` reads (from the `tzdata` package in slim images).
Offsets shown in labels are computed for a fixed year, so that the same query always gives the same choices.

Offsets (`UTC+1`, `GMT+3`, `+05:30`) are mapped to a zone whose *standard* offset is the one typed: whole hours to
the `Etc/GMT∓N` zones (note POSIX's inverted sign: UTC+1 is `Etc/GMT-1`), which keep that offset all year, exactly
what the learner said; the few fractional offsets that have no `Etc` zone to a representative city
(`+05:30` → `Asia/Kolkata`). A learner whose region observes daylight saving is better served by a city, which
autocomplete offers right after the `Etc` zone.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from rapidfuzz import fuzz, process

from bot.pairing._echo import quoted as _quoted

MAX_LABEL = 100
MAX_CHOICES = 25  # Discord's limit for autocomplete
MAX_QUERY = 100
EXAMPLE = "Try `Africa/Lagos`, a city such as `Nairobi`, or an offset such as `UTC+1`."

# Cities learners are likely to type, most of all where ALX learners live, mapped to the zone that keeps their
# clocks. Many are not the zone's own city (Abuja keeps Lagos time); a few are, but are listed so that the
# autocomplete label names them. Keys are lower case with spaces, as `_normalize` leaves a query.
CITY_ZONES: dict[str, str] = {
    # West Africa
    "abuja": "Africa/Lagos",
    "lagos": "Africa/Lagos",
    "ibadan": "Africa/Lagos",
    "kano": "Africa/Lagos",
    "port harcourt": "Africa/Lagos",
    "enugu": "Africa/Lagos",
    "benin city": "Africa/Lagos",
    "accra": "Africa/Accra",
    "kumasi": "Africa/Accra",
    "dakar": "Africa/Dakar",
    "abidjan": "Africa/Abidjan",
    "bamako": "Africa/Bamako",
    "ouagadougou": "Africa/Ouagadougou",
    "lome": "Africa/Lome",
    "cotonou": "Africa/Porto-Novo",
    "freetown": "Africa/Freetown",
    "monrovia": "Africa/Monrovia",
    "conakry": "Africa/Conakry",
    "douala": "Africa/Douala",
    "yaounde": "Africa/Douala",
    # East Africa
    "nairobi": "Africa/Nairobi",
    "mombasa": "Africa/Nairobi",
    "kisumu": "Africa/Nairobi",
    "kigali": "Africa/Kigali",
    "kampala": "Africa/Kampala",
    "entebbe": "Africa/Kampala",
    "addis ababa": "Africa/Addis_Ababa",
    "dar es salaam": "Africa/Dar_es_Salaam",
    "dodoma": "Africa/Dar_es_Salaam",
    "arusha": "Africa/Dar_es_Salaam",
    "zanzibar": "Africa/Dar_es_Salaam",
    "mogadishu": "Africa/Mogadishu",
    "juba": "Africa/Juba",
    "khartoum": "Africa/Khartoum",
    "bujumbura": "Africa/Bujumbura",
    "asmara": "Africa/Asmara",
    "djibouti": "Africa/Djibouti",
    # Central and Southern Africa
    "kinshasa": "Africa/Kinshasa",
    "lubumbashi": "Africa/Lubumbashi",
    "goma": "Africa/Lubumbashi",
    "luanda": "Africa/Luanda",
    "lusaka": "Africa/Lusaka",
    "harare": "Africa/Harare",
    "lilongwe": "Africa/Blantyre",
    "maputo": "Africa/Maputo",
    "gaborone": "Africa/Gaborone",
    "windhoek": "Africa/Windhoek",
    "johannesburg": "Africa/Johannesburg",
    "pretoria": "Africa/Johannesburg",
    "cape town": "Africa/Johannesburg",
    "durban": "Africa/Johannesburg",
    "antananarivo": "Indian/Antananarivo",
    "port louis": "Indian/Mauritius",
    # North Africa
    "cairo": "Africa/Cairo",
    "alexandria": "Africa/Cairo",
    "casablanca": "Africa/Casablanca",
    "rabat": "Africa/Casablanca",
    "marrakech": "Africa/Casablanca",
    "tunis": "Africa/Tunis",
    "algiers": "Africa/Algiers",
    "tripoli": "Africa/Tripoli",
    # Asia and the Middle East
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "chennai": "Asia/Kolkata",
    "hyderabad": "Asia/Kolkata",
    "pune": "Asia/Kolkata",
    "lahore": "Asia/Karachi",
    "islamabad": "Asia/Karachi",
    "dubai": "Asia/Dubai",
    "abu dhabi": "Asia/Dubai",
    "riyadh": "Asia/Riyadh",
    "jeddah": "Asia/Riyadh",
    "doha": "Asia/Qatar",
    "beijing": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai",
    "singapore": "Asia/Singapore",
    # Europe
    "london": "Europe/London",
    "manchester": "Europe/London",
    "edinburgh": "Europe/London",
    "berlin": "Europe/Berlin",
    "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome",
    "geneva": "Europe/Zurich",
    "kyiv": "Europe/Kyiv",
    "kiev": "Europe/Kyiv",
    "st petersburg": "Europe/Moscow",
    # The Americas and Oceania
    "new york": "America/New_York",
    "boston": "America/New_York",
    "washington": "America/New_York",
    "miami": "America/New_York",
    "atlanta": "America/New_York",
    "montreal": "America/Toronto",
    "houston": "America/Chicago",
    "dallas": "America/Chicago",
    "austin": "America/Chicago",
    "san francisco": "America/Los_Angeles",
    "los angeles": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "silicon valley": "America/Los_Angeles",
    "rio de janeiro": "America/Sao_Paulo",
    "sao paulo": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "brisbane": "Australia/Brisbane",
    "canberra": "Australia/Sydney",
    "wellington": "Pacific/Auckland",
}

# Abbreviations people use for their clocks. Several are ambiguous (IST, CST): the mapping picks the reading most
# likely among learners and the echoed zone lets them correct it. `EST` is also a legacy IANA zone fixed at
# UTC-5; New York is what people mean by it, summer included.
ABBREVIATIONS: dict[str, str] = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "zulu": "UTC",
    "wat": "Africa/Lagos",
    "cat": "Africa/Maputo",
    "eat": "Africa/Nairobi",
    "sast": "Africa/Johannesburg",
    "ist": "Asia/Kolkata",
    "bst": "Europe/London",
    "cest": "Europe/Paris",
    "est": "America/New_York",
    "edt": "America/New_York",
    "et": "America/New_York",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "ct": "America/Chicago",
    "mdt": "America/Denver",
    "mt": "America/Denver",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
}

# The empty query's list, and the order in which equally good matches are offered: learners' regions first.
POPULAR: tuple[str, ...] = (
    "Africa/Lagos",
    "Africa/Nairobi",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Accra",
    "Africa/Kigali",
    "Africa/Kampala",
    "Africa/Addis_Ababa",
    "Africa/Casablanca",
    "Africa/Dar_es_Salaam",
    "Africa/Kinshasa",
    "Africa/Lusaka",
    "Africa/Tunis",
    "Africa/Dakar",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Asia/Singapore",
    "UTC",
)

# Offsets (in minutes) that no `Etc/GMT` zone has, each with the main zone that keeps it as standard time.
_FRACTIONAL_OFFSETS: dict[int, str] = {
    -570: "Pacific/Marquesas",
    -210: "America/St_Johns",
    210: "Asia/Tehran",
    270: "Asia/Kabul",
    330: "Asia/Kolkata",
    345: "Asia/Kathmandu",
    390: "Asia/Yangon",
    525: "Australia/Eucla",
    570: "Australia/Darwin",
    630: "Australia/Lord_Howe",
    765: "Pacific/Chatham",
}
_MIN_OFFSET, _MAX_OFFSET = -12 * 60, 14 * 60  # the range the `Etc/GMT` zones cover
# Keys that `available_timezones` may list but that are no place: the machine's own zone and a placeholder.
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})
# A fixed year for the offsets shown in labels: reading the clock would make the choices change under a test.
_LABEL_YEAR = 2025

_OFFSET = re.compile(r"(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?:\s*:?\s*(\d{2}))?", re.ASCII)
_SPACES = re.compile(r"\s+")
_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


def _normalize(text: str) -> str:
    """`text` as lookups see it: NFKC, case-folded, single spaces, `_` as space, no accents (`São Paulo`)."""
    text = unicodedata.normalize("NFKD", text.translate(_DASHES))
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    text = _SPACES.sub(" ", text).strip()
    return text.replace(" / ", "/").replace("/ ", "/").replace(" /", "/")


def _city_label(key: str) -> str:
    """`dar es salaam` → `Dar es Salaam`: how a city table key is shown."""
    return " ".join(word if word in {"es", "de"} else word.capitalize() for word in key.split(" "))


@functools.cache
def all_zones() -> frozenset[str]:
    """Every IANA zone name `zoneinfo` can load here (from tzdata), without the machine-specific keys."""
    return frozenset(available_timezones() - _NOT_PLACES)


def _with_compact_keys(table: dict[str, str]) -> dict[str, str]:
    """`table` also under its keys without spaces, so that `America/NewYork` and `addisababa` are found."""
    compact = {key.replace(" ", ""): value for key, value in table.items()}
    return compact | table


@functools.cache
def _by_lower_name() -> dict[str, str]:
    return _with_compact_keys({_normalize(name): name for name in all_zones()})


def _preference(name: str) -> tuple[int, int, str]:
    """Sort key among zones: popular ones, then regional `Area/City` names before legacy ones, then short."""
    rank = POPULAR.index(name) if name in POPULAR else len(POPULAR)
    legacy = 0 if "/" in name and not name.startswith(("Etc/", "US/", "SystemV/", "Brazil/", "Canada/")) else 1
    return (rank, legacy, name)


@functools.cache
def _by_city() -> dict[str, str]:
    """The last part of every zone name (`addis ababa`, `new york`), each mapped to its preferred zone."""
    cities: dict[str, str] = {}
    for name in sorted(all_zones(), key=_preference):
        if "/" in name and not name.startswith("Etc/"):
            cities.setdefault(_normalize(name.rsplit("/", 1)[1]), name)
    return _with_compact_keys(cities)


def _offset_minutes(text: str) -> int | None:
    """The offset in minutes that `text` spells (`UTC+1`, `gmt-03:30`, `+0530`), or None if it is no offset."""
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if minutes >= 60:
        return None
    total = hours * 60 + minutes
    return -total if sign == "-" else total


def _zone_for_offset(minutes: int) -> str:
    if minutes == 0:
        return "UTC"
    if minutes % 60 == 0 and _MIN_OFFSET <= minutes <= _MAX_OFFSET:
        # POSIX-style names count hours west of Greenwich: UTC+1 is Etc/GMT-1.
        hours = minutes // 60
        return f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"
    if minutes in _FRACTIONAL_OFFSETS:
        return _FRACTIONAL_OFFSETS[minutes]
    raise ValueError(f"No timezone has the offset {_format_offset(minutes)}. {EXAMPLE}")


def _lookup(key: str) -> str | None:
    """The zone `key` (already normalized) names, or None. Tables first: they also hold the legacy `EST`."""
    for table in (ABBREVIATIONS, CITY_ZONES, _by_lower_name(), _by_city()):
        if key in table:
            return table[key]
    if (compact := key.replace(" ", "")) in _by_lower_name():
        return _by_lower_name()[compact]
    if compact in _by_city():
        return _by_city()[compact]
    minutes = _offset_minutes(key)
    return None if minutes is None else _zone_for_offset(minutes)


def resolve_timezone(text: str) -> str:
    """The IANA name for a zone, city, abbreviation or offset, or a `ValueError` that says what to type instead."""
    key = _normalize(text)
    if not key:
        raise ValueError(f"Which timezone? {EXAMPLE}")
    zone = _lookup(key) if len(key) <= MAX_QUERY else None
    if zone is None:
        raise ValueError(f"Unknown timezone `{_quoted(text)}`. {EXAMPLE}")
    return zone


# --- autocomplete -----------------------------------------------------------------------------------------


def _format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


@functools.cache
def offsets(zone: str) -> tuple[int, int]:
    """The zone's (winter, summer) offsets in minutes in a fixed year, lower first; equal where there is no DST.

    The lower one is what people call the standard offset. Not `dst()`: Dublin's rules make winter the
    "daylight saving" time (a negative one), which would call its summer offset standard.
    """
    tz = ZoneInfo(zone)
    found: list[int] = []
    for month in (1, 7):  # one of them is summer, north or south
        offset = datetime(_LABEL_YEAR, month, 15, 12, tzinfo=tz).utcoffset() or timedelta(0)
        found.append(int(offset.total_seconds()) // 60)
    return (min(found), max(found))


def _offset_label(zone: str) -> str:
    standard, daylight = offsets(zone)
    if standard == daylight:
        return f"UTC{_format_offset(standard)}"
    return f"UTC{_format_offset(standard)}/{_format_offset(daylight)}"


def choice_label(zone: str, city: str | None = None) -> str:
    """`Africa/Lagos (Abuja) · UTC+01:00`: the zone, the city it was found by, and its offsets (≤ 100 chars)."""
    own_city = _normalize(zone.rsplit("/", 1)[-1])
    named = f"{zone} ({city})" if city and _normalize(city) != own_city else zone
    label = f"{named} · {_offset_label(zone)}"
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


@functools.cache
def _entries() -> tuple[tuple[str, str, str | None], ...]:
    """Everything a query can match: (search key, zone, city shown in the label or None)."""
    cities: list[tuple[str, str, str | None]] = [
        (key, zone, _city_label(key)) for key, zone in CITY_ZONES.items() if zone in all_zones()
    ]
    # Legacy names that the tables read otherwise (`EST`, `Zulu`, `Singapore`) are not offered: a choice must
    # resolve to itself.
    zones: list[tuple[str, str, str | None]] = [
        (_normalize(name), name, None) for name in sorted(all_zones()) if _lookup(_normalize(name)) == name
    ]
    return tuple(cities + zones)


def _matches_prefix(key: str, query: str) -> bool:
    return key.startswith(query) or any(part.startswith(query) for part in key.split("/")[1:])


def timezone_choices(query: str, limit: int = MAX_CHOICES) -> list[tuple[str, str]]:
    """Up to `limit` (label, IANA name) pairs for autocomplete: exact, prefix, substring, then fuzzy matches."""
    limit = max(0, min(limit, MAX_CHOICES))
    if limit == 0:
        return []
    key = _normalize(query)[:MAX_QUERY]
    if not key:
        return [(choice_label(zone), zone) for zone in POPULAR[:limit] if zone in all_zones()]
    ranked: list[tuple[str, str | None]] = []
    exact = _lookup(key) if _offset_minutes(key) is None else None
    if exact is not None:
        ranked.append((exact, _city_label(key) if key in CITY_ZONES else None))
    ranked.extend(_offset_matches(key))
    entries = _entries()
    prefix = [(zone, city) for text, zone, city in entries if _matches_prefix(text, key)]
    inner = [(zone, city) for text, zone, city in entries if key in text and not _matches_prefix(text, key)]
    ranked.extend(sorted(prefix, key=lambda pair: _preference(pair[0])))
    ranked.extend(sorted(inner, key=lambda pair: _preference(pair[0])))
    if len(ranked) < limit:
        ranked.extend(_fuzzy(key, limit))
    return _unique(ranked, limit)


def _offset_matches(key: str) -> list[tuple[str, str | None]]:
    """For an offset query: its zone, then the places whose standard time has that offset."""
    minutes = _offset_minutes(key)
    if minutes is None:
        return []
    try:
        first = _zone_for_offset(minutes)
    except ValueError:
        return []
    same = sorted((z for z in all_zones() if "/" in z and offsets(z)[0] == minutes), key=_preference)
    return [(zone, None) for zone in [first, *same]]


def _fuzzy(key: str, limit: int) -> list[tuple[str, str | None]]:
    entries = _entries()
    found = process.extract(key, [text for text, _, _ in entries], scorer=fuzz.WRatio, limit=limit, score_cutoff=80)
    return [(entries[index][1], entries[index][2]) for _, _, index in found]


def _unique(ranked: list[tuple[str, str | None]], limit: int) -> list[tuple[str, str]]:
    """The first `limit` distinct zones, each labelled with the city that found it first."""
    seen: set[str] = set()
    choices: list[tuple[str, str]] = []
    for zone, city in ranked:
        if zone in seen:
            continue
        seen.add(zone)
        choices.append((choice_label(zone, city), zone))
        if len(choices) == limit:
            break
    return choices
