"""Which rewrites of a release a reader would notice (worth an edit), and the daily edit budget."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from bot.models import Delivery
from bot.render.changes import noticeable_change, post_fingerprint
from bot.render.post import Button, Post
from bot.services.edit_budget import EDIT_DAY, after_edit, edit_wait
from tests.factories import make_release

# Words a title is made of: letters (some beyond ASCII), digits and punctuation, no spaces.
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéÉøØ"
words = st.text(alphabet=LETTERS + "0123456789-'.,:;!?()&", min_size=1, max_size=12)
titles = st.lists(words, min_size=1, max_size=12)
spaces = st.text(alphabet=" \t\n\r\u00a0\u2003\u3000", min_size=1, max_size=4)
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@st.composite
def respaced_and_recased(draw: st.DrawFn, title: list[str]) -> str:
    """`title`'s words with other whitespace around and between them, letters in any case."""
    recased = [
        "".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in word) for word in title
    ]
    text = draw(st.sampled_from(["", " ", "\n"]))
    for word in recased:
        text += word + draw(spaces)
    return text


@given(st.data(), titles)
def test_whitespace_and_case_are_not_noticeable(data: st.DataObject, title: list[str]) -> None:
    """A title respaced or recased any way (tabs, newlines, no-break spaces) asks for no edit."""
    old = make_release(1, title=" ".join(title))
    new = replace(old, title=data.draw(respaced_and_recased(title)))
    assert not noticeable_change(old, new)


@given(titles, st.integers(min_value=0, max_value=11), words)
def test_any_change_to_the_words_of_a_title_is_noticeable(
    title: list[str], position: int, word: str
) -> None:
    """Replacing, adding or dropping a word of the title (case aside) is worth an edit."""
    position %= len(title)
    for changed in (
        [*title[:position], word, *title[position + 1 :]],  # replaced
        [*title[:position], word, *title[position:]],  # added
        [*title[:position], *title[position + 1 :]],  # dropped
    ):
        if [w.lower() for w in changed] == [w.lower() for w in title]:
            continue  # the same words after all
        old = make_release(1, title=" ".join(title))
        new = replace(old, title=" ".join(changed))
        assert noticeable_change(old, new), (title, changed)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20))
def test_tracking_parameters_in_a_summary_link_are_not_noticeable(value: str) -> None:
    """A summary whose link gets a new utm_source, fbclid or gclid asks for no edit."""
    link = "https://www.nih.gov/news/release-1"
    old = make_release(1, summary=f"Findings were published today. See {link}?utm_source=rss.")
    for tracked in (f"{link}?utm_source={value}", f"{link}?fbclid={value}&utm_medium=x"):
        new = replace(old, summary=f"Findings  were\npublished today. See {tracked}.")
        assert not noticeable_change(old, new)
    moved = replace(old, summary=f"Findings were published today. See {link}-{value}.")
    assert noticeable_change(old, moved)


def test_a_changed_summary_sentence_or_link_is_noticeable() -> None:
    """New words in the summary, or a link to another page, are worth an edit."""
    old = make_release(1)
    assert noticeable_change(old, replace(old, summary=old.summary + " A second sentence."))
    assert noticeable_change(old, replace(old, url="https://example.org/releases/1-corrected"))
    assert not noticeable_change(old, replace(old, summary=f"\n {old.summary}\u200b \n"))


def test_fingerprint_tells_posts_apart_as_a_reader_does() -> None:
    """Two posts differing only in spacing or case share a fingerprint; other words do not."""
    button = Button("Read the release", "https://example.org/r/1")
    post = Post("<b>Teens and alcohol</b>\nNIDA · 2 Apr 2014", (button,), link_preview=True)
    assert post_fingerprint(post) == post_fingerprint(
        replace(post, text="<b>Teens  and Alcohol</b>\nNIDA ·  2 Apr 2014 ")
    )
    assert post_fingerprint(post) != post_fingerprint(replace(post, text="<b>Teens and wine</b>"))
    assert post_fingerprint(post) != post_fingerprint(replace(post, link_preview=False))
    other = Button("Read the release", "https://example.org/r/2")
    assert post_fingerprint(post) != post_fingerprint(replace(post, buttons=(other,)))


def sent(window: datetime | None = None, used: int = 0) -> Delivery:
    return Delivery(
        id=1,
        release_id=1,
        channel="news",
        state="sent",
        message_id=7,
        error=None,
        attempts=1,
        changes=1,
        sent_at=NOW,
        edit_window=window,
        edits_in_window=used,
    )


@given(st.lists(st.floats(min_value=0, max_value=3 * 86400), min_size=1, max_size=40))
def test_no_more_than_the_budget_of_edits_in_a_posts_day(offsets: list[float]) -> None:
    """However often an edit is due, a post gets at most 3 edits in each day of edits."""
    delivery = sent()
    per_day: Counter[datetime] = Counter()
    for offset in sorted(offsets):
        now = NOW + timedelta(seconds=offset)
        if edit_wait(delivery, now) is not None:
            continue
        budget = after_edit(delivery, now)
        assert budget.window <= now < budget.window + EDIT_DAY
        per_day[budget.window] += 1
        delivery = replace(delivery, edit_window=budget.window, edits_in_window=budget.used)
    assert max(per_day.values()) <= 3
    days = sorted(per_day)
    assert all(later - earlier >= EDIT_DAY for earlier, later in pairwise(days))


def test_the_fourth_edit_of_a_day_waits_for_the_day_to_end() -> None:
    """Three edits go at once; the fourth waits until a day after the first, then goes."""
    delivery = sent()
    for minute in range(3):
        now = NOW + timedelta(minutes=minute)
        assert edit_wait(delivery, now) is None
        budget = after_edit(delivery, now)
        delivery = replace(delivery, edit_window=budget.window, edits_in_window=budget.used)
    assert budget.next_edit == NOW + EDIT_DAY
    assert edit_wait(delivery, NOW + timedelta(hours=5)) == NOW + EDIT_DAY
    assert edit_wait(delivery, NOW + EDIT_DAY) is None
    assert after_edit(delivery, NOW + EDIT_DAY).used == 1
