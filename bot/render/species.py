"""Recognise the second part of a species name in a title, so title case leaves it lowercase.

CMOS 17 §8.159, rule 7: "Lowercase the second part of a species name, such as fulvescens in
Acipenser fulvescens, even if it is the last word in a title or subtitle." Feeds carry no
italics to mark a binomial, so this is a heuristic, tuned to be wrong rarely rather than to
catch every name: a word the feed wrote in lowercase counts as an epithet only when it

- follows a capitalised word written as a genus ("Colletotrichum", "Escherichia") with no
  punctuation between them, or an abbreviated genus ("C.", "E.");
- after a spelled-out genus, has a Latin ending ("destructivum", "coli", "aureus",
  "sapiens", "sativa", "elegans") and is not a common English word with such an ending
  ("virus", "data", "area", "museum", "famous", "physicians", "dementia", "analysis", …);
- after an abbreviated genus, is any lowercase word ("C. elegans").

Missed names are simply capitalised, as before.
"""

from __future__ import annotations

import re

_GENUS = re.compile(r"[A-Z][a-z]{2,}")
_ABBREVIATED_GENUS = re.compile(r"[A-Z]\.")
_LOWER_WORD = re.compile(r"[a-z]{3,}")
_LATIN_ENDINGS = ("um", "us", "ae", "i", "is", "a", "iens", "escens", "ensis", "ans")
# English endings that overlap the Latin ones: "-ous" adjectives, "-ians" people, medical
# nouns ("-sis", "-itis", "-ia", "-oma", "-emia").
_NOT_LATIN_ENDINGS = ("sis", "itis", "ous", "ians", "ia", "oma", "emia")
# Common English words with a Latin ending that follow a capitalised name in headlines
# ("Zika virus", "Florida data", "Texas veterans"): never taken for an epithet.
_LOOKALIKE_WORDS = """
    this his thus plus minus versus bonus campus census consensus corpus focus fungus
    genus nucleus status stimulus virus bus gas alumni taxi kiwi sushi chili safari bikini
    mini broccoli spaghetti alpha beta gamma delta theta sigma omega zeta influenza flora
    fauna lava gala saga visa diva yoga soda cola aroma stigma dogma enigma dilemma karma
    magma cinema panorama marina vagina angina replica vanilla umbrella propaganda plaza
    stanza veranda tortilla paprika guerrilla salsa area data media era idea sea tea pea
    tundra savanna sierra mesa peninsula nebula supernova nova aurora corona lacuna
    camera drama trauma asthma
    plasma agenda formula vodka pizza sofa arena opera tuna banana quota extra via circa
    mania nausea malaria anemia anaemia leukemia leukaemia dementia insomnia hernia
    pneumonia panda koala llama cobra gorilla hyena orca alpaca algae larvae antennae
    vertebrae criteria bacteria phenomena stamina retina china america africa asia europe
    medium minimum maximum optimum premium spectrum serum sodium calcium potassium
    magnesium opium vacuum album curriculum momentum aquarium symposium consortium
    moratorium referendum platinum aluminum aluminium uranium helium lithium forum museum
    stadium gymnasium petroleum podium quantum delirium equilibrium millennium condominium
    auditorium memorandum addendum pendulum asylum drum plum slum gum sum rum
    cannabis tennis penis pelvis iris axis chassis debris trellis metropolis syphilis
    veterans slogans pelicans caravans partisans artisans republicans americans
"""
ENGLISH_LOOKALIKES = frozenset(_LOOKALIKE_WORDS.split())
# A sentence-case title capitalises its first word, so "Global cholera cases rise" and "The
# cholera outbreak" put an English word where a genus would be: adjectives, participles,
# adverbs and the words headlines open with are never a genus ("Global", "Rising", "Deadly").
_NOT_GENUS_ENDINGS = ("al", "ic", "ly", "ing", "ed", "ive", "ful", "less", "est", "ant", "ent")
_NOT_GENUS_WORD_LIST = """
    the new big rare giant old how why what when where who which more most many few top key
    first last next all some any each every our your their its his her this that these those
    wild huge tiny deadly toxic record major minor one two three four five
"""
_NOT_GENUS_WORDS = frozenset(_NOT_GENUS_WORD_LIST.split())


def is_genus(word: str) -> bool:
    """A word written like a genus: "Colletotrichum", or abbreviated, "C."."""
    return bool(_GENUS.fullmatch(word) or _ABBREVIATED_GENUS.fullmatch(word))


def is_epithet(genus: str, word: str) -> bool:
    """`word`, written right after `genus` (as is_genus accepts), reads as its species epithet."""
    if not _LOWER_WORD.fullmatch(word):
        return False
    if _ABBREVIATED_GENUS.fullmatch(genus):
        return True
    lowered = genus.lower()
    if lowered in _NOT_GENUS_WORDS or lowered.endswith(_NOT_GENUS_ENDINGS):
        return False
    if word in ENGLISH_LOOKALIKES or word.endswith(_NOT_LATIN_ENDINGS):
        return False
    if word.endswith("ans") and len(word) < 7:  # "plans", "fans", "oceans"; not "elegans"
        return False
    return word.endswith(_LATIN_ENDINGS)
