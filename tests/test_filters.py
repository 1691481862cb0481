"""Route keyword filters: words and "quoted phrases", any case or accent, no regular expressions."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.errors import FilterError, ReleaseBotError
from bot.feeds.filters import (
    MAX_TERM_LENGTH,
    MAX_TERMS,
    RouteFilter,
    describe_filter,
    fold_words,
    format_terms,
    parse_terms,
    passes,
)

TITLE = "NIH launches HEAL trial of a vaccine against fentanyl overdose"
SUMMARY = "The study enrols adults with opioid-use disorder at 12 sites."
CATEGORIES = ("Addiction Science", "Research News")


def check(include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), **release: object) -> bool:
    fields = {"title": TITLE, "summary": SUMMARY, "categories": CATEGORIES, **release}
    return passes(RouteFilter(include, exclude), **fields)  # type: ignore[arg-type]


# --- parse_terms --------------------------------------------------------------------------


def test_words_and_quoted_phrases_are_terms() -> None:
    """The example from the design note splits into two words and one phrase."""
    assert parse_terms('vaccine "opioid use disorder" fentanyl') == (
        "vaccine",
        "opioid use disorder",
        "fentanyl",
    )


def test_typographic_quotes_from_a_phone_work_like_straight_ones() -> None:
    """“Smart quotes” (and German „…“) open and close phrases."""
    assert parse_terms("“opioid use”  „drug   abuse“ NIDA") == ("opioid use", "drug abuse", "NIDA")


def test_terms_keep_the_users_spelling_and_repeat_once() -> None:
    """Display keeps case and accents; the same word in another case is not listed twice."""
    assert parse_terms("Vaccíne vaccine VACCINE Mouse") == ("Vaccíne", "Mouse")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('vaccine "opioid use', "not closed"),
        ("", "No words"),
        ("   \n ", "No words"),
        ('vaccine ""', "Empty quotes"),
        ("-- !!", "no letter or digit"),
        (" ".join(f"w{n}" for n in range(MAX_TERMS + 1)), "at most 20"),
        ("x" * 101, "at most 100"),
    ],
)
def test_unusable_terms_are_refused_with_a_reason(text: str, says: str) -> None:
    """Each mistake gets a FilterError whose message tells the user what to change."""
    with pytest.raises(FilterError, match=says):
        parse_terms(text)


def test_filter_error_is_a_release_bot_error() -> None:
    """The admin command catches it under the project's one exception root."""
    assert issubclass(FilterError, ReleaseBotError)


@given(st.text())
def test_parse_terms_raises_nothing_but_filter_error(text: str) -> None:
    """Any text from a chat gives terms or a FilterError, never a crash."""
    try:
        terms = parse_terms(text)
    except FilterError as exc:
        message = str(exc)
        assert message, "a FilterError always says what to change"
    else:
        assert 1 <= len(terms) <= MAX_TERMS
        assert all(term == " ".join(term.split()) and fold_words(term) for term in terms)


@given(st.text())
def test_terms_round_trip_through_their_display(text: str) -> None:
    """What the bot echoes back (format_terms) parses to the same terms."""
    try:
        terms = parse_terms(text)
    except FilterError:
        return
    assert parse_terms(format_terms(terms)) == terms


# --- matching -----------------------------------------------------------------------------


def test_an_empty_filter_passes_everything() -> None:
    """No include and no exclude: every release is owed to the route."""
    assert RouteFilter().is_empty
    assert check(title="", summary="", categories=())


def test_include_needs_one_matching_term() -> None:
    """One term of the include list is enough; none means the release is skipped."""
    assert check(include=("mouse", "vaccine"))
    assert not check(include=("mouse", "alcohol"))


def test_exclude_rejects_a_release_with_any_term() -> None:
    """An exclude term anywhere (title, summary or category) drops the release."""
    assert not check(exclude=("overdose",))
    assert not check(exclude=("adults",))
    assert not check(exclude=("research",))
    assert check(exclude=("mouse",))


def test_words_match_whole_words_only() -> None:
    """The word "vaccin" is not "vaccine", and "vaccines" is not "vaccine"."""
    assert not check(include=("vaccin",))
    assert not check(include=("vaccine",), title="New vaccines", summary="", categories=())


def test_case_and_accents_do_not_matter() -> None:
    """VACCÍNE, vaccine and Vaccine are the same word; so are fentanyl and FENTANYL."""
    assert check(include=("VACCÍNE",))
    assert check(include=("vaccine",), title="Vaccíne résumé", summary="", categories=())
    assert check(include=("resume",), title="Vaccíne RÉSUMÉ", summary="", categories=())


def test_hyphens_and_punctuation_are_word_boundaries() -> None:
    """A phrase matches across a hyphen; a word matches a part of a hyphenated word."""
    assert check(include=("opioid use disorder",))
    assert check(include=("opioid",))
    assert check(include=("covid-19",), title="COVID 19 update", summary="", categories=())
    assert check(include=("covid 19",), title="Covid-19: update", summary="", categories=())
    assert check(include=("children",), title="The children's study", summary="", categories=())


def test_a_phrase_needs_its_words_in_order_and_adjacent() -> None:
    """The phrases "use opioid" and "opioid disorder" are not in "opioid-use disorder"."""
    assert not check(include=("use opioid",))
    assert not check(include=("opioid disorder",))
    assert check(include=("at 12 sites",))


def test_a_phrase_does_not_run_across_title_and_summary() -> None:
    """The last word of the title and the first of the summary are not a phrase."""
    assert not check(include=("overdose the study",))
    assert not check(include=("science research",))
    assert check(include=("addiction science",))


def test_describe_filter_is_one_line_for_subs() -> None:
    """/subs shows include and exclude lists, phrases in quotes."""
    flt = RouteFilter(include=("vaccine", "opioid use disorder"), exclude=("mouse",))
    assert describe_filter(flt) == 'include: vaccine, "opioid use disorder"; exclude: mouse'
    assert describe_filter(RouteFilter(exclude=("mouse",))) == "exclude: mouse"
    assert describe_filter(RouteFilter()) == "no filter"


def test_checking_one_release_takes_microseconds() -> None:
    """A 20-term filter against a long release costs well under 5 ms, even on a loaded machine."""
    terms = tuple(f"term{n} phrase" for n in range(10)) + tuple(f"word{n}" for n in range(10))
    flt = RouteFilter(include=terms, exclude=terms)
    summary = "An opioid-use disorder study across many sites and many adults. " * 30
    passes(flt, title=TITLE, summary=summary, categories=CATEGORIES)
    rounds = 200
    start = time.perf_counter()
    for _ in range(rounds):
        passes(flt, title=TITLE, summary=summary, categories=CATEGORIES)
    assert (time.perf_counter() - start) / rounds < 0.005


def test_a_pathological_pattern_costs_nothing_special() -> None:
    """Terms that would stall a backtracking regex are only words here."""
    flt = RouteFilter(include=(("a " * 49 + "b").strip(),))
    text = "a " * 5000
    start = time.perf_counter()
    assert not passes(flt, title=text, summary=text, categories=())
    assert time.perf_counter() - start < 0.5


# --- properties ---------------------------------------------------------------------------

# Letters whose upper and lower case map back and forth, with and without accents.
LETTERS = "abcdefghijklmnopqrstuvwxyzéèêëáàâäíìîïóòôöúùûüçñ0123456789"
words = st.text(alphabet=LETTERS, min_size=1, max_size=12)
titles = st.lists(words, min_size=1, max_size=12)
separators = st.sampled_from([" ", "-", ", ", ": ", " — ", "/", "' ", ".\n"])


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def variant(word: str, how: str) -> str:
    return {
        "upper": word.upper(),
        "title": word.title(),
        "bare": strip_accents(word),
        "bare upper": strip_accents(word).upper(),
        "same": word,
    }[how]


hows = st.sampled_from(["upper", "title", "bare", "bare upper", "same"])


@given(titles, separators, st.data(), hows)
def test_any_word_of_the_title_matches_in_any_case_or_accent(
    title_words: list[str], sep: str, data: st.DataObject, how: str
) -> None:
    """Include of a title word passes, exclude of it rejects, whatever its case or accents."""
    title = sep.join(title_words)
    word = variant(data.draw(st.sampled_from(title_words)), how)
    assert passes(RouteFilter(include=(word,)), title=title, summary="", categories=())
    assert not passes(RouteFilter(exclude=(word,)), title=title, summary="", categories=())


@given(titles, separators, st.data(), hows)
def test_any_run_of_title_words_matches_as_a_phrase(
    title_words: list[str], sep: str, data: st.DataObject, how: str
) -> None:
    """A quoted phrase of consecutive title words matches across any punctuation."""
    start = data.draw(st.integers(0, len(title_words) - 1))
    end = data.draw(st.integers(start + 1, len(title_words)))
    phrase = variant(" ".join(title_words[start:end]), how)
    assume(len(phrase) <= MAX_TERM_LENGTH)  # a longer term is refused (tested apart)
    (term,) = parse_terms(f'"{phrase}"')
    title = sep.join(title_words)
    assert passes(RouteFilter(include=(term,)), title=title, summary="", categories=())


@given(titles, words)
def test_a_word_not_in_the_release_does_not_match(title_words: list[str], word: str) -> None:
    """Include of an absent word skips the release; exclude of it lets the release through."""
    assume(strip_accents(word) not in {strip_accents(w) for w in title_words})
    title = " ".join(title_words)
    assert not passes(RouteFilter(include=(word,)), title=title, summary="", categories=())
    assert passes(RouteFilter(exclude=(word,)), title=title, summary="", categories=())


@given(st.text(), st.text(), st.lists(st.text(), max_size=3), st.text())
def test_any_word_of_arbitrary_text_matches_itself(
    title: str, summary: str, categories: list[str], extra: str
) -> None:
    """Whatever the script, a word cut from the text matches that text, and nothing raises."""
    for word in fold_words(title)[:3]:
        assert passes(
            RouteFilter(include=(word,)), title=title, summary=summary, categories=tuple(categories)
        )
    passes(RouteFilter(include=(extra,), exclude=(extra,)), title=title, summary=summary,
           categories=tuple(categories))  # fmt: skip


def test_compatibility_characters_fold_to_their_words() -> None:
    """Ligatures and unit symbols match their letters: "ﬁrst" is "first", "㎒" is "MHz"."""
    assert passes(
        RouteFilter(include=("first",)), title="The ﬁrst trial", summary="", categories=()
    )
    assert passes(RouteFilter(include=("mhz",)), title="At 5 ㎒", summary="", categories=())


@given(st.text())
def test_folding_twice_changes_nothing(text: str) -> None:
    """A folded word folds to itself, so a word cut from any text matches that text."""
    for word in fold_words(text):
        assert fold_words(word) == (word,)
