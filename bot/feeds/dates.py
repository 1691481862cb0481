"""Parse feed date strings (RFC 822 and ISO 8601) keeping the publisher's own UTC offset.

A press release's date is the publisher's calendar date, so "Thu, 03 Apr 2014 22:30:00
-0400" must stay 3 April (feedparser's `*_parsed` values are UTC and would say 4 April).
UTC values ("Z", "+0000", "-0000", GMT) are moved into the feed's configured zone when
there is one. Offset-less values (none given, or a zone name we do not know) are read as
wall time in that zone, or as UTC when the feed has no zone.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

__all__ = [
    "FOREIGN_DAYS",
    "FOREIGN_MONTHS",
    "MONTHS",
    "calendar_date",
    "from_utc_struct",
    "parse_date",
]

# The month names, once: posts, replies and citations write them; feeds abbreviate them.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# Day and month names of feeds in Portuguese, Spanish, French, German and Italian (full and
# abbreviated, accents folded away and lower-cased: see _folded), for RFC 822-shaped dates
# such as a Brazilian feed's "Seg, 24 Set 2018 19:42:40 -0300". Month number -> names.
FOREIGN_MONTHS: dict[int, tuple[str, ...]] = {
    1: ("janeiro", "jan", "enero", "ene", "janvier", "janv", "januar", "janner", "jan",
        "gennaio", "gen"),
    2: ("fevereiro", "fev", "febrero", "feb", "fevrier", "fevr", "fev", "februar", "feb",
        "febbraio"),
    3: ("marco", "mar", "marzo", "mars", "marz", "mrz"),
    4: ("abril", "abr", "avril", "avr", "april", "apr", "aprile"),
    5: ("maio", "mai", "mayo", "may", "mai", "maggio", "mag"),
    6: ("junho", "jun", "junio", "juin", "juni", "giugno", "giu"),
    7: ("julho", "jul", "julio", "juillet", "juil", "juli", "luglio", "lug"),
    8: ("agosto", "ago", "aout", "aou", "august", "aug"),
    9: ("setembro", "set", "septiembre", "setiembre", "sep", "sept", "septembre", "september",
        "settembre"),
    10: ("outubro", "out", "octubre", "oct", "octobre", "oktober", "okt", "ottobre", "ott"),
    11: ("novembro", "nov", "noviembre", "novembre", "november"),
    12: ("dezembro", "dez", "diciembre", "dic", "decembre", "dec", "dezember", "dicembre"),
}  # fmt: skip
# Weekday names (Monday first); RFC 822 ignores the weekday, so these are only recognised.
FOREIGN_DAYS: tuple[tuple[str, ...], ...] = (
    ("seg", "segunda", "segunda-feira", "lun", "lunes", "lundi", "mo", "montag", "lunedi"),
    ("ter", "terca", "terca-feira", "mar", "martes", "mardi", "di", "dienstag", "martedi"),
    ("qua", "quarta", "quarta-feira", "mie", "miercoles", "mer", "mercredi", "mi", "mittwoch",
     "mercoledi"),
    ("qui", "quinta", "quinta-feira", "jue", "jueves", "jeu", "jeudi", "do", "donnerstag",
     "gio", "giovedi"),
    ("sex", "sexta", "sexta-feira", "vie", "viernes", "ven", "vendredi", "fr", "freitag",
     "venerdi"),
    ("sab", "sabado", "sam", "samedi", "sa", "samstag", "sonnabend", "sabato"),
    ("dom", "domingo", "dim", "dimanche", "so", "sonntag", "domenica"),
)  # fmt: skip

# Zone names email.utils does not know (it knows UT, UTC, GMT, Z and the US zones).
# Only names with one widely agreed meaning; IST, CST-as-China and the like stay unknown.
_EXTRA_ZONES = {
    "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "HKT": 8, "SGT": 8, "AWST": 8, "JST": 9, "KST": 9,
    "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "HST": -10, "AKST": -9, "AKDT": -8, "NST": -3.5, "NDT": -2.5,
}  # fmt: skip
_TRAILING_ZONE = re.compile(r"^(?P<head>.*\d)\s+(?P<zone>[A-Za-z]{2,5})$")
_ISO_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
_ISO_LIKE = re.compile(r"^\d{4}-?\d{2}")
_RFC_DATE_ONLY = re.compile(
    r"^(?:[A-Za-z]+,?\s+)?(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3})[A-Za-z]*\.?\s+(?P<year>\d{4})$"
)
_MONTH_NUMBERS = {name[:3].lower(): number for number, name in enumerate(MONTHS, start=1)}
_ENGLISH_MONTH_WORDS = frozenset(
    [name.lower() for name in MONTHS] + list(_MONTH_NUMBERS) + ["sept"]
)
_ENGLISH_DAYS = frozenset(
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday",
     "thursday", "friday", "saturday", "sunday"]
)  # fmt: skip
_FOREIGN_MONTH_NUMBERS = {
    name: number for number, names in FOREIGN_MONTHS.items() for name in names
}
_FOREIGN_DAY_NAMES = frozenset(name for names in FOREIGN_DAYS for name in names)
# "Seg, 24 Set 2018 19:42:40 -0300", "lun. 24 sept. 2018 ...", "Mo, 24. Sep 2018 ...".
_NAMED_PARTS = re.compile(
    r"^(?:(?P<weekday>[^\W\d_][\w-]*)\.?,?\s+)?(?P<day>\d{1,2})\.?\s+"
    r"(?P<month>[^\W\d_]+)\.?\s+(?P<rest>\d{2,4}\b.*)$"
)


def parse_date(raw: str, zone: ZoneInfo | None) -> date | datetime | None:
    """Parse an RFC 822 or ISO 8601 date; a date-only value stays a `date`.

    The result keeps the publisher's offset; UTC and offset-less times are converted
    into `zone` when one is given (offset-less times are UTC otherwise). Anything
    unparseable gives None: this never raises.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    try:
        value = _parse_iso(text) or _parse_rfc822(_in_english(text))
        if isinstance(value, datetime):
            return _in_zone(value, zone)
    except (ValueError, TypeError, OverflowError, IndexError, KeyError):
        return None
    return value


def calendar_date(value: date | datetime) -> date:
    """The calendar date a person reads: a datetime's date in its own offset (converting
    to UTC would move a late-evening release to the next day)."""
    if isinstance(value, datetime):
        return value.date()
    return value


def _parse_iso(text: str) -> date | datetime | None:
    if not _ISO_LIKE.match(text):
        return None
    try:
        if _ISO_DATE_ONLY.match(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def _folded(word: str) -> str:
    """`word` lower-cased without accents: "Sáb" -> "sab", "août" -> "aout", "März" -> "marz"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _in_english(text: str) -> str:
    """An RFC 822-shaped date with foreign (or dotted: "Jan.") day and month names, with
    English ones instead (the weekday dropped, as RFC 822 readers ignore it); any other text
    as it is.

    Unknown names are left for the parser to refuse: a date is not guessed.
    """
    match = _NAMED_PARTS.match(text)
    if not match:
        return text
    weekday, month = _folded(match["weekday"] or ""), _folded(match["month"])
    if weekday and weekday not in _FOREIGN_DAY_NAMES and weekday not in _ENGLISH_DAYS:
        return text
    number = _FOREIGN_MONTH_NUMBERS.get(month)
    if number is None and month in _ENGLISH_MONTH_WORDS:
        number = _MONTH_NUMBERS[month[:3]]
    if number is None:
        return text
    return f"{match['day']} {MONTHS[number - 1][:3]} {match['rest']}"


def _parse_rfc822(text: str) -> date | datetime | None:
    date_only = _RFC_DATE_ONLY.match(text)
    if date_only:
        month = _MONTH_NUMBERS.get(date_only["month"].lower())
        if month is None:
            return None
        return date(int(date_only["year"]), month, int(date_only["day"]))
    return parsedate_to_datetime(_numeric_zone(text))


def _numeric_zone(text: str) -> str:
    """Replace a trailing zone name email.utils would ignore with its numeric offset."""
    if text.endswith("-0000"):
        # RFC 5322: "-0000" is UTC with the sender's zone unknown; email.utils drops it.
        return text[:-5] + "+0000"
    match = _TRAILING_ZONE.match(text)
    if not match:
        return text
    hours = _EXTRA_ZONES.get(match["zone"].upper())
    if hours is None:
        return text
    minutes = round(abs(hours) * 60)
    sign = "-" if hours < 0 else "+"
    return f"{match['head']} {sign}{minutes // 60:02d}{minutes % 60:02d}"


def _in_zone(value: datetime, zone: ZoneInfo | None) -> datetime:
    """Read offset-less times as wall time in `zone` (else UTC); move UTC into `zone`."""
    if value.tzinfo is None:
        return value.replace(tzinfo=zone if zone is not None else UTC)
    if zone is not None and value.utcoffset() == timedelta(0):
        return value.astimezone(zone)
    return value


def from_utc_struct(value: object, zone: ZoneInfo | None) -> datetime | None:
    """A feedparser `*_parsed` value (a UTC 9-tuple) as an aware datetime, or None.

    Only a fallback for date formats `parse_date` does not read: it has lost the
    publisher's offset, so it is moved into `zone` when one is known.
    """
    if not isinstance(value, tuple) or len(value) < 6:
        return None
    fields = value[:6]
    if not all(isinstance(field, int) for field in fields):
        return None
    year, month, day, hour, minute, second = (int(field) for field in fields)
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
        return moment.astimezone(zone) if zone is not None else moment
    except (ValueError, OverflowError):
        return None
