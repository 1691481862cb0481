"""The study behind a release, as a post and a list show it: the post's one "Study:" line and
the short mark /latest and /search put on a release that has a study.

The study's full citation in every style is `render_study_citation` (bot/render/cite.py,
re-exported here).
"""

from __future__ import annotations

from urllib.parse import quote

from bot.models import Study
from bot.render.authors import clean
from bot.render.cite import render_study_citation
from bot.render.cite_study_data import Person, study_data, study_key
from bot.render.telegram_html import Html, escape, link

__all__ = [
    "STUDY_MARK",
    "render_study_citation",
    "study_citation_key",
    "study_line",
    "study_link",
]

# Put before a release's title in /latest and /search when the release has a study: one
# emoji (a page of a paper) costs one character of a 4096-character message, reads the same
# in every language, and cannot be mistaken for text of the title as "[study]" could.
STUDY_MARK = "📄"

# Caps for the parts of the line: a group author's or a journal's name can be a paragraph.
_WHO_MAX = 60
_TITLE_MAX = 60
_JOURNAL_MAX = 80
_ID_MAX = 80
_PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
_PMC = "https://pmc.ncbi.nlm.nih.gov/articles/"
# Characters a DOI keeps in a link; the rest (spaces, quotes, angle brackets, non-ASCII) are
# percent-encoded, as doi.org reads them (DOI Handbook §3.5), so Telegram takes the link.
_DOI_SAFE = "/:;()[]._-+~!$*,=@"


def study_line(study: Study) -> tuple[str, Html]:
    """The post's line naming its study, as plain text and as Telegram HTML, e.g.
    "Study: Young et al. (2014), The Journal of Neuroscience · doi:10.1523/JNEUROSCI.4977-13.2014",
    the identifier linked (the DOI to doi.org; without one, the PMID to PubMed, the PMCID to
    PubMed Central, else the article's URL). One author "Young (2014)", two "Young &
    Franklin (2014)", a group by its name, no authors the title shortened, "(n.d.)" undated.
    Each part is capped, so the line stays under about 300 characters."""
    data = study_data(study)
    who = _who(data.authors) or _short(data.title, _TITLE_MAX) or "Untitled article"
    head = f"Study: {_short(who, _WHO_MAX)} ({data.year or 'n.d.'})"
    if journal := _short(data.journal, _JOURNAL_MAX):
        head = f"{head}, {journal}"
    label, href = study_link(study)
    if not label:
        return head, escape(head)
    label = _short(label, _ID_MAX)
    return f"{head} · {label}", Html(f"{escape(head)} · {link(href, label)}")


def study_citation_key(study: Study) -> str:
    """The study's base citation key, e.g. "young2014nipping" (first author's family name,
    year or "nd", first significant title word); make it unique among stored studies with
    bot.render.cite_data.key_with_suffix and pass it to `render_study_citation(key=...)`."""
    return study_key(study_data(study))


def study_link(study: Study) -> tuple[str, str]:
    """The study's identifier as the line shows it and the URL it links to:
    ("doi:10.1523/…", "https://doi.org/10.1523/…"), ("PMID 24695721", PubMed's page),
    ("PMC3972727", PubMed Central's page), ("article", its URL), or ("", "")."""
    doi, pmid, pmcid = clean(study.doi), clean(study.pmid), clean(study.pmcid)
    if doi:
        return f"doi:{doi}", "https://doi.org/" + quote(doi, safe=_DOI_SAFE)
    if pmid.isdigit() and pmid.isascii():
        return f"PMID {pmid}", f"{_PUBMED}{pmid}/"
    if pmcid.upper().startswith("PMC") and pmcid[3:].isdigit() and pmcid.isascii():
        return pmcid.upper(), f"{_PMC}{pmcid.upper()}/"
    url = clean(study.url)
    if url.lower().startswith(("https://", "http://")) and " " not in url:
        return "article", quote(url, safe=":/?#[]@!$&'()*+,;=%-._~")
    return "", ""


def _who(authors: tuple[Person, ...]) -> str:
    """ "Young", "Young & Franklin", "Young et al." (APA 7 §8.17's in-text forms)."""
    names = [person.literal or person.family for person in authors]
    if len(names) >= 3:
        return f"{names[0]} et al."
    return " & ".join(names)


def _short(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, "…" marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"
