"""The seed release's study as design/citations.md ("The study behind the release") writes it:
its DOI, authors and titles, and the golden citation strings, `*...*` marking italics. One
source for the unit tests (tests/test_cite_study.py) and the end-to-end run
(tests/test_study_seed_e2e.py).
"""

from __future__ import annotations

DOI = "10.1523/JNEUROSCI.4977-13.2014"
DOI_URL = f"https://doi.org/{DOI}"
AUTHORS = (
    ("Young", "Kimberly A."), ("Franklin", "Teresa R."), ("Roberts", "David C. S."),
    ("Jagannathan", "Kanchana"), ("Suh", "Jesse J."), ("Wetherill", "Reagan R."),
    ("Wang", "Ze"), ("Kampman", "Kyle M."), ("O'Brien", "Charles P."),
    ("Childress", "Anna Rose"),
)  # fmt: skip
# As Crossref gives it (the journal's title case) and as PubMed gives it (sentence case).
CROSSREF_TITLE = (
    "Nipping Cue Reactivity in the Bud: Baclofen Prevents Limbic Activation Elicited by "
    "Subliminal Drug Cues"
)
PUBMED_TITLE = (
    "Nipping cue reactivity in the bud: baclofen prevents limbic activation elicited by "
    "subliminal drug cues."
)
HEADLINE = (
    "Nipping Cue Reactivity in the Bud: Baclofen Prevents Limbic Activation Elicited by "
    "Subliminal Drug Cues"
)
SENTENCE = (
    "Nipping cue reactivity in the bud: Baclofen prevents limbic activation elicited by "
    "subliminal drug cues"
)
ALL_NAMES = (
    "Young, Kimberly A., Teresa R. Franklin, David C. S. Roberts, Kanchana Jagannathan, "
    "Jesse J. Suh, Reagan R. Wetherill, Ze Wang, Kyle M. Kampman, Charles P. O'Brien, "
    "and Anna Rose Childress"
)

# --- design/citations.md, "The study behind the release (journal article)" ---------------

GOLDEN = {
    "apa": (
        "Young, K. A., Franklin, T. R., Roberts, D. C. S., Jagannathan, K., Suh, J. J., "
        "Wetherill, R. R., Wang, Z., Kampman, K. M., O'Brien, C. P., & Childress, A. R. "
        f"(2014). {SENTENCE}. *The Journal of Neuroscience*, *34*(14), 5038–5043. {DOI_URL}"
    ),
    "mla": (
        f"Young, Kimberly A., et al. “{HEADLINE}.” *The Journal of Neuroscience*, vol. 34, "
        f"no. 14, 2014, pp. 5038–43, {DOI_URL}."
    ),
    "chicago": (
        f"{ALL_NAMES}. “{HEADLINE}.” *Journal of Neuroscience* 34, no. 14 (2014): 5038–43. "
        f"{DOI_URL}."
    ),
    "chicago-note": (
        f"Kimberly A. Young et al., “{HEADLINE},” *Journal of Neuroscience* 34, no. 14 "
        f"(2014): 5038–43, {DOI_URL}."
    ),
    "chicago-author-date": (
        f"{ALL_NAMES}. 2014. “{HEADLINE}.” *Journal of Neuroscience* 34 (14): 5038–43. {DOI_URL}."
    ),
    # Ours (not in the design doc): APA 6 as its manual has it, §6.27 (first six, "…",
    # last, for eight or more authors) and §6.31-6.32 (the "doi:" form, no final period).
    "apa6": (
        "Young, K. A., Franklin, T. R., Roberts, D. C. S., Jagannathan, K., Suh, J. J., "
        "Wetherill, R. R., … Childress, A. R. "
        f"(2014). {SENTENCE}. *The Journal of Neuroscience*, *34*(14), 5038–5043. doi:{DOI}"
    ),
}
