"""Reading a small teacher's replies during decomposition: skill phrases, short names, level words and numbered
choices, with its near-misses repaired deterministically."""

from __future__ import annotations

import re
from collections import Counter

from ioa.domains.decomposition import Difficulty, SeedModule

_ABOUT = re.compile(r"\b(?:about|practi[sc]es?)\s*:?\s+(.+)", re.I | re.S)
_SENTENCE_END = re.compile(r"(?<=[\w)`'\"])[.!?](?:\s|$)|\n")
_WORD = re.compile(r"[a-z]{2,}")
_STOP = frozenset(
    "a an the of to in on for and or with that which how what it its is are be this these those by as at from into"
    " using use given new simple basic some your their them they if then than can will so about exercise when while"
    " where".split()
)
"""Words that name no skill: function words, and the filler a small teacher pads skills with."""
LEVELS: dict[Difficulty, tuple[str, ...]] = {
    "introductory": ("introductory", "easy", "basic", "beginner", "elementary", "simple"),
    "intermediate": ("intermediate", "medium", "moderate", "average"),
    "advanced": ("advanced", "hard", "difficult", "challenging", "complex", "expert"),
}
"""How a teacher's level word maps onto a difficulty."""


def slug(text: str, limit: int = 40) -> str:
    """``"Adding Fractions!"`` -> ``"adding_fractions"``; empty when no letter survives."""
    out = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit].strip("_")
    return out if re.search(r"[a-z]", out) else ""


def parse_skill(reply: str, exercise: str) -> tuple[str, str]:
    """(the skill phrase X of "This exercise is about X", "") or ("", why the reply is unusable)."""
    match = _ABOUT.search(reply.replace("**", ""))
    if not match:
        return "", "no_skill_phrase"  # the teacher solved, echoed or chatted instead
    # Near-misses: "about:" then a bullet list (the first bullet is the phrase), and a quoted instance
    # of the task ("correcting the sentence "The weather..."": the words before the quote are the skill).
    phrase = _SENTENCE_END.split(match.group(1).strip().lstrip("-*• \n"), maxsplit=1)[0]
    phrase = re.split(r"[\"“]", phrase.strip(" \"'`*:"), maxsplit=1)[0]
    phrase = " ".join(phrase.split()[:20])
    if len(content_words(phrase)) < 2:
        return "", "too_short"
    # The exercise said again, or a number of it in the "skill": the teacher described no skill.
    if slug(phrase, 400) == slug(exercise, 400) or set(re.findall(r"\d+", phrase)) & set(re.findall(r"\d+", exercise)):
        return "", "copies_the_task"
    return phrase, ""


def content_words(text: str) -> list[str]:
    """The words of ``text`` that can name a skill, in order, each once."""
    return list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in _STOP))


def skill_name(phrase: str, siblings: list[str], words: int = 3) -> str:
    """A short name for a skill phrase: its first words that its category's other phrases do not mostly share.

    "writing a Python function that reverses a string" among other "writing a Python function ..."
    phrases is named ``reverses_string``; a phrase with fewer than two words of its own keeps its first words.
    """
    own = content_words(phrase)
    counts = Counter(w for s in siblings for w in content_words(s))
    shared = {w for w, n in counts.items() if len(siblings) > 2 and n > len(siblings) / 2}
    distinct = [w for w in own if w not in shared]
    return slug(" ".join((distinct if len(distinct) >= 2 else own)[:words]))


def parse_level(reply: str) -> Difficulty | None:
    """The difficulty a level reply names first ("easy" -> introductory), or None."""
    found = [
        (m.start(), level)
        for level, names in LEVELS.items()
        for n in names
        for m in re.finditer(rf"\b{n}\b", reply, re.I)
    ]
    return min(found)[1] if found else None


def parse_numbers(reply: str, options: list[SeedModule]) -> list[SeedModule] | None:
    """The options a reply lists by number ([] for "none"), or None when it is not such a list.

    Only a bare list counts ("1, 3", "They are: 2."): "2. Correcting the spelling" copies a line
    of the numbered list it was shown, which a small teacher does whatever the question.
    """
    answer = reply.rsplit(":", 1)[-1].strip().rstrip(".").strip()
    if re.fullmatch(r"(?:none|no|nothing)", answer, re.I):
        return []
    if not re.fullmatch(r"\d+(?:\s*(?:,|and)\s*\d+)*", answer):
        return None
    picked = [options[int(n) - 1] for n in re.findall(r"\d+", answer) if 1 <= int(n) <= len(options)]
    return list({m.id: m for m in picked}.values()) if picked else None


def parse_choice(text: str, options: list[SeedModule]) -> SeedModule | None:
    """The module a classification reply names: its number, or its id or name; None if neither."""
    for number in re.findall(r"\d+", text):
        if 1 <= int(number) <= len(options):
            return options[int(number) - 1]
    lowered = slug(text, limit=200)
    for option in sorted(options, key=lambda m: -len(m.id)):
        if option.id.split("/")[1] in lowered:
            return option
    return None
