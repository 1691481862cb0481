"""Properties of citations for any release a feed could produce: every style renders, its
HTML is what Telegram accepts, and the machine formats parse back in their own tools.

tests/fixtures/csl-data.json is the CSL 1.0.2 input data schema, copied unchanged from
citation-style-language/schema, schemas/input/csl-data.json (commit 00412663).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import bibtexparser
import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Publisher, Release
from bot.render.authors import citation_author, clean
from bot.render.cite import STYLES, render_citation
from bot.render.cite_data import issued_date
from bot.render.cite_machine import bibtex_url
from bot.render.telegram_html import bold, escape, italic, link, pre
from tests.fakes.telegram_html import parse_telegram_html

ACCESSED = date(2024, 5, 1)
MACHINE_STYLES = ("bibtex", "biblatex", "ris", "csl-json")
SCHEMA_PATH = Path(__file__).parent / "fixtures" / "csl-data.json"

texts = st.text(max_size=120)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
pub_dates = st.one_of(st.none(), st.dates(), st.datetimes(timezones=offsets))
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True)
paths = st.from_regex(r"[A-Za-z0-9_.~%/?=&#-]{0,60}", fullmatch=True)
real_urls = st.builds(lambda scheme, host, path: f"{scheme}://{host}/{path}",
                      st.sampled_from(["http", "https"]), hosts, paths)  # fmt: skip
any_urls = st.one_of(st.just(""), real_urls, texts)


def releases(urls: st.SearchStrategy[str] = any_urls) -> st.SearchStrategy[Release]:
    return st.builds(
        Release,
        feed=st.just("feed"),
        key=texts,
        title=texts,
        link=urls,
        url=urls,
        published=pub_dates,
        updated=pub_dates,
        author=texts,
        feed_author=texts,
        feed_title=texts,
        summary=texts,
        language=st.one_of(st.sampled_from(["", "en", "en-us", "es", "fr"]), texts),
    )


publishers = st.builds(Publisher, name=texts, short_name=texts)


def cite(release: Release, publisher: Publisher, style: str, *, html: bool = False) -> str:
    return render_citation(release, publisher, style, accessed=ACCESSED, html=html)


@given(releases(), publishers)
def test_every_style_renders_something_for_any_release(
    release: Release, publisher: Publisher
) -> None:
    """No title, no date, odd text or a broken URL: every style still gives a citation."""
    for style in STYLES:
        assert cite(release, publisher, style).strip()
        assert cite(release, publisher, style, html=True).strip()


@given(releases(), publishers)
def test_html_is_valid_telegram_html_and_reads_as_the_plain_text(
    release: Release, publisher: Publisher
) -> None:
    """Telegram accepts every style's HTML, and shows exactly the plain-text citation."""
    for style in STYLES:
        parsed = parse_telegram_html(cite(release, publisher, style, html=True))
        assert parsed.text == cite(release, publisher, style)
        kinds = {entity.type for entity in parsed.entities}
        assert kinds <= ({"pre"} if style in MACHINE_STYLES else {"italic"})


_LATEX_ESCAPE = re.compile(r"\\(text[a-z]+)\{\}|\\([%&$#_])")
_LATEX_CHARS = {
    "textbackslash": "\\",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textbraceleft": "{",
    "textbraceright": "}",
    "textless": "<",
    "textgreater": ">",
}
_PROTECTION = re.compile(r"(\\[a-z]+\{\})|[{}]")


def unprotect(value: str) -> str:
    """Drop the braces that protect capitals, keeping the `\\textless{}` kind."""
    return _PROTECTION.sub(lambda m: m.group(1) or "", value)


def latex_unescape(value: str) -> str:
    """Undo the renderer's escaping of LaTeX specials (the inverse of what it promises)."""
    return _LATEX_ESCAPE.sub(
        lambda m: _LATEX_CHARS[m.group(1)] if m.group(1) else m.group(2), value
    )


@given(releases(urls=st.one_of(st.just(""), real_urls)), publishers)
def test_bibtex_parses_back_to_the_same_fields(release: Release, publisher: Publisher) -> None:
    """bibtexparser reads our BibTeX back into the same author, title, year and URL; biblatex
    keeps the title's text exactly, BibTeX too where it is plain ASCII (issue 11 point 8:
    BibTeX drops what pdfLaTeX cannot set, and braces protect capitals in both)."""
    utf8 = bibtexparser.parse_string(cite(release, publisher, "biblatex"))
    assert not utf8.failed_blocks
    assert latex_unescape(unprotect(utf8.entries[0]["title"])) == clean(release.title)
    library = bibtexparser.parse_string(cite(release, publisher, "bibtex"))
    assert not library.failed_blocks
    [entry] = library.entries
    fields = {field.key: field.value for field in entry.fields}
    assert fields["author"].startswith("{")
    assert fields["author"].endswith("}")
    author = citation_author(release, publisher)
    if author.isascii():
        assert latex_unescape(fields["author"][1:-1]) == author
    if clean(release.title).isascii():
        assert latex_unescape(unprotect(fields["title"])) == clean(release.title)
    issued = issued_date(release)
    assert fields.get("year") == (str(issued.year) if issued else None)
    url = clean(release.url or release.link)
    assert fields.get("url") == (url or None)


@given(releases(), publishers)
def test_bibtex_with_any_url_still_parses(release: Release, publisher: Publisher) -> None:
    """Even a URL full of braces and spaces keeps BibTeX and biblatex parseable."""
    for style in ("bibtex", "biblatex"):
        library = bibtexparser.parse_string(cite(release, publisher, style))
        assert not library.failed_blocks
        [entry] = library.entries
        url = clean(release.url or release.link)
        assert entry.fields_dict.get("url") is None or entry["url"] == bibtex_url(url)


_RIS_LINE = re.compile(r"^[A-Z][A-Z0-9]  - ")


@given(releases(), publishers)
def test_ris_has_one_tag_per_line(release: Release, publisher: Publisher) -> None:
    """Every RIS line is `TAG  - value`; the record starts with TY and ends with ER."""
    lines = cite(release, publisher, "ris").split("\n")
    assert all(_RIS_LINE.match(line) for line in lines)
    assert lines[0] == "TY  - ELEC"
    assert lines[-1] == "ER  - "


@cache
def csl_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@given(releases(), publishers)
def test_csl_json_validates_against_the_csl_data_schema(
    release: Release, publisher: Publisher
) -> None:
    """CSL-JSON output is valid CSL 1.0.2 input data, one item with our fields."""
    items = json.loads(cite(release, publisher, "csl-json"))
    jsonschema.validate(items, csl_schema())
    [item] = items
    assert item["author"] == [{"literal": citation_author(release, publisher)}]


# --- issue 11: the title's own punctuation -----------------------------------------------

NIDA = Publisher(name="National Institute on Drug Abuse", short_name="NIDA")
PROSE_STYLES = ("apa", "apa6", "mla", "chicago", "chicago-note", "chicago-author-date")


def _nida_release(title: str) -> Release:
    return Release(
        feed="nida", key="k", title=title, link="https://nida.nih.gov/a",
        url="https://nida.nih.gov/a", published=date(2014, 4, 3), updated=None, author="",
        feed_author="", feed_title="NIDA", summary="", language="en",
    )  # fmt: skip


# Sentences of plain words (five letters or more, so never an abbreviation like "Inc.").
sentences = st.lists(st.from_regex(r"[A-Za-z]{5,9}", fullmatch=True), min_size=1, max_size=6)


@given(sentences.map(lambda words: " ".join(words) + "."))
def test_a_titles_final_period_is_never_doubled(title: str) -> None:
    """Issue 11 point 5: whatever the words, no style prints "..", ".," or ". [" after the
    title; the machine formats keep the period."""
    release = _nida_release(title)
    for style in PROSE_STYLES:
        text = cite(release, NIDA, style)
        assert ".." not in text
        assert ".," not in text
        assert ". [" not in text
    assert f"TI  - {title}\n" in cite(release, NIDA, "ris")


@given(texts)
def test_apa_has_only_typographic_quotes_and_machine_formats_the_publishers(title: str) -> None:
    """Issue 11 point 9: APA 7 and 6 print no straight quotation mark or apostrophe, whatever
    the title holds; RIS and CSL-JSON keep the publisher's text exactly."""
    release = _nida_release(title)
    for style in ("apa", "apa6"):
        text = cite(release, NIDA, style)
        assert '"' not in text
        assert "'" not in text
    [item] = json.loads(cite(release, NIDA, "csl-json"))
    assert item.get("title", "") == clean(title)
    ris_titles = [
        line for line in cite(release, NIDA, "ris").split("\n") if line.startswith("TI  - ")
    ]
    assert ris_titles == ([f"TI  - {clean(title)}"] if clean(title) else [])


# The HTML helpers themselves (bot/render/telegram_html.py): what they wrap reads back as
# the exact text, whatever it holds. Texts that Telegram would reject for other reasons
# (NUL ends its C string) are what feeds never carry after cleaning, so they are left out.
safe_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
)


@given(safe_texts)
def test_html_helpers_show_any_text_literally(text: str) -> None:
    """escape, bold, italic and pre make any text (with <, >, &, quotes) read back as is."""
    assert parse_telegram_html(escape(text)).text == text
    for helper, kind in ((bold, "bold"), (italic, "italic"), (pre, "pre")):
        parsed = parse_telegram_html(helper(text))
        assert parsed.text == text
        assert {entity.type for entity in parsed.entities} <= {kind}


@given(safe_texts, real_urls.map(lambda url: url.replace("&", '&"<>')))
def test_link_escapes_its_href_and_text(text: str, href: str) -> None:
    """link() keeps a href with quotes and angle brackets inside its attribute."""
    html = link(href, text)
    assert html.startswith('<a href="')
    assert '"<>' not in html
    assert html.endswith(f">{escape(text)}</a>")
    assert html == link(href, escape(text))  # already-escaped Html is not escaped twice
