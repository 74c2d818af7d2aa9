"""The embedded default domain: English word knowledge, which the embedded 135M teacher knows.

Eight modules: plurals (regular, -es, -ies, irregular), the regular past tense, comparative and
superlative adjectives, and capital cities. Each module is a unit of words in three levels, short
and common words first (small instances first); its probes ask every word of the unit in one fixed
question form, so P_S says how much of the unit the student knows, and P_T how much of it the
teacher knows. A tiny from-scratch student learns the words it is taught, not the spelling rule
behind them (its tokenizer sees whole words), so the teacher's lessons name the unit's words.

Answers are checked by well-kept libraries, never by a table of answers: ``inflect`` (plurals),
``lemminflect`` (past tense, comparative, superlative) and ``countryinfo`` (capitals). The same
checker verifies a teacher-written exercise: the word it asks about is found in its problem, the
answer must be that word's form, the word must follow the module's rule, and no step may name
another form of the word.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ioa.domains.base import ModuleSpec, Task
from ioa.domains.lesson import Lesson, StyleExample, Verdict
from ioa.domains.word_forms import (
    capital,
    comparative,
    countries,
    past,
    plural,
    plural_rule,
    regular_suffix,
    superlative,
)
from ioa.errors import UsageError


@functools.cache
@dataclass(frozen=True)
class Unit:
    """One module: its words per level, its question form, its checker and its rule in plain words."""

    spec: ModuleSpec
    words: tuple[tuple[str, ...], ...]
    """The unit's words, per level: what the teacher teaches and the probes ask."""
    references: tuple[str, ...]
    """Words outside the unit for style references, so that a reference never shows a probe's answer."""
    ask: str
    """The question form, with ``{w}`` for the word."""
    forms: Callable[[str], tuple[str, ...]]
    """Every accepted answer for a word (the library's), empty when the library has none."""
    follows: Callable[[str], bool]
    """Whether a word belongs to this module (follows its rule)."""
    rule: str
    """The module's rule in plain words."""
    steps: Callable[[str, str], str]
    """A reference worked solution for (word, answer): the style the teacher is shown."""
    check: Callable[[str, str], str]
    """A reference check of the answer for (word, answer)."""

    @property
    def cue(self) -> str:
        """The word of the question form that says what is asked: 'plural', 'past', 'capital'."""
        found = re.search(r"\bthe (\w+)", self.ask)
        return found.group(1) if found else ""


def _unit(
    mid: str,
    name: str,
    description: str,
    prerequisites: tuple[str, ...],
    words: tuple[tuple[str, ...], ...],
    references: tuple[str, ...],
    ask: str,
    forms: Callable[[str], tuple[str, ...]],
    follows: Callable[[str], bool],
    steps: Callable[[str, str], str],
    check: Callable[[str, str], str],
) -> Unit:
    spec = ModuleSpec(mid, name, description, prerequisites, len(words))
    return Unit(spec, words, references, ask, forms, follows, description, steps, check)


def _plural_check(word: str, answer: str) -> str:
    return f"One {word}, many {answer}."


def _ending(word: str) -> str:
    return next((e for e in ("ch", "sh") if word.endswith(e)), word[-1])


UNITS: tuple[Unit, ...] = (
    _unit(
        "plural/regular",
        "Regular plurals",
        "Most nouns take -s in the plural: one cat, two cats.",
        (),
        (("cat", "dog", "cup", "pen"), ("book", "bird", "tree", "lamp"), ("window", "garden", "rabbit", "pencil")),
        ("hat", "car", "girl", "flower"),
        'What is the plural of "{w}"?',
        plural,
        lambda w: plural_rule(w) == "regular",
        lambda w, a: f'One {w}, two {a}. Most nouns just add -s: "{w}" becomes "{a}".',
        _plural_check,
    ),
    _unit(
        "plural/es",
        "Plurals in -es",
        "Nouns that end in s, x, z, ch or sh take -es in the plural: one box, two boxes.",
        ("plural/regular",),
        (
            ("box", "bus", "fox", "kiss"),
            ("dish", "lunch", "glass", "watch"),
            ("church", "brush", "sandwich", "address"),
        ),
        ("tax", "wish", "match", "dress"),
        'What is the plural of "{w}"?',
        plural,
        lambda w: plural_rule(w) == "es",
        lambda w, a: f'"{w}" ends in {_ending(w)}. After s, x, z, ch or sh we add -es: "{w}" becomes "{a}".',
        _plural_check,
    ),
    _unit(
        "plural/ies",
        "Plurals in -ies",
        "Nouns that end in a consonant and y change the y to -ies: one baby, two babies.",
        ("plural/regular",),
        (
            ("baby", "city", "lady", "fly"),
            ("party", "story", "puppy", "penny"),
            ("country", "family", "library", "cherry"),
        ),
        ("pony", "army", "body", "berry"),
        'What is the plural of "{w}"?',
        plural,
        lambda w: plural_rule(w) == "ies",
        lambda w, a: f'"{w}" ends in a consonant and y. Change the y to -ies: "{w}" becomes "{a}".',
        _plural_check,
    ),
    _unit(
        "plural/irregular",
        "Irregular plurals",
        "Some nouns change their spelling in the plural instead of adding -s: one man, two men.",
        ("plural/regular",),
        (("man", "child", "foot", "tooth"), ("woman", "mouse", "goose", "person"), ("knife", "wolf", "leaf", "wife")),
        ("ox", "louse", "calf", "half"),
        'What is the plural of "{w}"?',
        plural,
        lambda w: plural_rule(w) == "irregular",
        lambda w, a: f'One {w}, two {a}. "{w}" is irregular: we do not add -s, the word changes to "{a}".',
        _plural_check,
    ),
    _unit(
        "past/regular",
        "Regular past tense",
        "Regular verbs take -ed in the past tense: today I walk, yesterday I walked.",
        (),
        (("walk", "jump", "play", "help"), ("like", "bake", "smile", "dance"), ("stop", "plan", "cry", "try")),
        ("cook", "open", "love", "hop"),
        'What is the past tense of "{w}"?',
        past,
        lambda w: regular_suffix(w, past(w), "ed"),
        lambda w, a: f'Today I {w}, yesterday I {a}. Regular verbs add -ed: "{w}" becomes "{a}".',
        lambda w, a: f"Yesterday I {a}: the past of {w}.",
    ),
    _unit(
        "degree/comparative",
        "Comparatives",
        "Short adjectives take -er to compare two things: tall, taller.",
        (),
        (("tall", "fast", "old", "small"), ("nice", "large", "wide", "safe"), ("big", "hot", "happy", "easy")),
        ("short", "late", "thin", "busy"),
        'What is the comparative form of "{w}"?',
        comparative,
        lambda w: regular_suffix(w, comparative(w), "er"),
        lambda w, a: f'Tom is {w}, Sam is {a}. Short adjectives add -er: "{w}" becomes "{a}".',
        lambda w, a: f"{w}, {a}: the second one is more.",
    ),
    _unit(
        "degree/superlative",
        "Superlatives",
        "Short adjectives take -est for the most of all, just as they take -er: tall, taller, tallest.",
        ("degree/comparative",),
        (("tall", "fast", "old", "small"), ("nice", "large", "wide", "safe"), ("big", "hot", "happy", "easy")),
        ("short", "late", "thin", "busy"),
        'What is the superlative form of "{w}"?',
        superlative,
        lambda w: regular_suffix(w, superlative(w), "est"),
        lambda w, a: f'Of all the boys, Sam is the {a}. Like -er, short adjectives add -est: "{w}" becomes "{a}".',
        lambda w, a: f"{w}, {comparative(w)[0]}, {a}.",
    ),
    _unit(
        "capitals",
        "Capital cities",
        "Every country has a capital city: the capital of France is Paris.",
        (),
        (
            ("France", "Japan", "Italy", "Spain"),
            ("Egypt", "Canada", "Greece", "Germany"),
            ("Kenya", "Norway", "Peru", "Poland"),
        ),
        ("Chile", "India", "Mexico", "Sweden"),
        "What is the capital of {w}?",
        capital,
        lambda w: bool(capital(w)),
        lambda w, a: f"{w} is a country. Its capital city is {a}.",
        lambda w, a: f"{a} is a city in {w}.",
    ),
)


# "Answer: cats", "The answer is cats", "answer = cats"
_MARKER = re.compile(r"answer\s*(?:is|:|=)\s*", re.I)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_QUOTED = re.compile(r"[\"“'‘*]+([A-Za-z][A-Za-z .\-]*?)[\"”'’*]+")
_WORDS = re.compile(r"[A-Za-z][A-Za-z\-]*")


def extract_form(text: str, n_words: int = 1) -> str:
    """The word (or ``n_words`` words) a free-text reply gives as its answer.

    In order: a LaTeX ``\\boxed{}``; what follows the last "Answer:" marker; what follows the first " is " (a
    reply such as 'The plural of "cat" is "cats" (...)'); else the reply's start. There, a quoted or bold word
    wins, else the first words. Teacher and student replies go through this same function.
    """
    if boxed := _BOXED.findall(text):
        return boxed[-1].strip()
    markers = list(_MARKER.finditer(text))
    if markers:
        rest = text[markers[-1].end() :]
    else:
        _, sep, after = text.partition(" is ")
        rest = after if sep else text
    window = rest.strip()[:40]
    if quoted := _QUOTED.match(window) or _QUOTED.search(window):
        return quoted.group(1).strip()
    return " ".join(_WORDS.findall(rest)[:n_words])


def _norm(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


class WordsDomain:
    """English word knowledge (see the module docstring)."""

    name = "words"

    def __init__(self, seed: int = 0, units: tuple[Unit, ...] = UNITS) -> None:
        self.seed = seed
        self.modules: list[ModuleSpec] = [u.spec for u in units]
        self._units = {u.spec.id: u for u in units}

    # --- the Domain protocol ----------------------------------------------------------

    def probes(self, module_id: str, n: int, seed: int) -> list[Task]:
        """The unit's words in the question form, level by level (``level = i % levels``), cycling if n is larger."""
        unit = self._unit(module_id)
        rng = random.Random(f"{self.seed}|{seed}|{module_id}")
        per_level = [rng.sample(words, len(words)) for words in unit.words]
        levels = len(per_level)
        return [
            self._task(unit, i % levels, per_level[i % levels][(i // levels) % len(per_level[i % levels])])
            for i in range(n)
        ]

    def exercises(self, module_id: str, level: int, n: int, seed: int) -> list[Task]:
        """``n`` questions about the unit's words at ``level`` (what checker-written practice asks)."""
        unit = self._unit(module_id)
        if not 0 <= level < len(unit.words):
            raise UsageError(f"{module_id} has levels 0..{len(unit.words) - 1}, not {level}")
        rng = random.Random(f"{self.seed}|{seed}|{module_id}|{level}")
        return [self._task(unit, level, rng.choice(unit.words[level])) for _ in range(n)]

    def score(self, task: Task, answer: str | None) -> float:
        """1.0 when the reply's answer is one of the library's forms of the task's word."""
        if not answer:
            return 0.0
        forms = self._unit(task.module).forms(task.entry["word"])
        n_words = max((len(f.split()) for f in forms), default=1)
        got = _norm(extract_form(answer, n_words))
        return 1.0 if got and any(got == _norm(f) for f in forms) else 0.0

    # --- synthesis ----------------------------------------------------------------------

    def lesson(self, module_id: str, level: int) -> Lesson:
        """What a synthesis request at ``level`` names: the unit's words, the size and complexity caps, references."""
        unit = self._unit(module_id)
        words = unit.words[level]
        longest = max(len(w) for w in words)
        references = tuple(
            StyleExample(unit.ask.format(w=w), unit.steps(w, a), a, unit.check(w, a), item=w)
            for w, a in ((w, unit.forms(w)[0]) for w in unit.references[:2])
        )
        return Lesson(
            items=words,
            size_cap=f"words of at most {longest} letters",
            complexity_cap="one rule only",  # the rule itself is on the prompt's skill line
            references=references,
        )

    def verify(self, module_id: str, problem: str, steps: str, answer: str) -> Verdict:
        """Check a teacher-written exercise with the module's checker (see the module docstring)."""
        unit = self._unit(module_id)
        # A problem asks for the module's form by name ("the plural of") or by a blank to fill ("two ___"); one
        # that does neither ("Where might we find a book?") teaches the student a question the module never asks.
        if unit.cue.lower() not in problem.lower() and "__" not in problem:
            return Verdict(False, f"the problem does not ask for the {unit.cue}")
        if len({q.strip().lower() for q in _QUOTED.findall(problem) if unit.forms(q.strip())}) > 1:
            return Verdict(False, "the problem asks about more than one word")
        word = self._asked_word(unit, problem)
        if word is None:
            return Verdict(False, "no word of the module's kind in the problem")
        forms = unit.forms(word)
        given = extract_form(f"Answer: {answer}", max((len(f.split()) for f in forms), default=1))
        if not any(_norm(given) == _norm(f) for f in forms):
            return Verdict(False, f"wrong answer for {word!r}: {given!r}", {"word": word})
        if not unit.follows(word):
            return Verdict(False, f"{word!r} does not follow the module's rule", {"word": word})
        if stray := self._stray_form(word, forms, steps):
            return Verdict(False, f"a step contradicts the answer: {stray!r}", {"word": word})
        return Verdict(True, "checked", {"word": word})

    # --- helpers ------------------------------------------------------------------------

    def _unit(self, module_id: str) -> Unit:
        if module_id not in self._units:
            raise UsageError(f"unknown module {module_id!r} in domain {self.name}; known: {', '.join(self._units)}")
        return self._units[module_id]

    def _task(self, unit: Unit, level: int, word: str) -> Task:
        forms = unit.forms(word)
        if not forms:
            raise UsageError(f"{unit.spec.id}: the checker has no answer for {word!r}")
        return Task(unit.spec.id, level, unit.ask.format(w=word), forms[0], {"word": word})

    @staticmethod
    def _asked_word(unit: Unit, problem: str) -> str | None:
        """The word a problem asks about: a quoted one first, else the last word the checker has a form for."""
        quoted = [q for q in _QUOTED.findall(problem) if unit.forms(q.strip())]
        if quoted:
            return quoted[0].strip()
        if unit.spec.id == "capitals":
            found = [c for c in countries() if re.search(rf"\b{re.escape(c)}\b", problem, re.I)]
            return max(found, key=len) if found else None
        candidates = [w for w in _WORDS.findall(problem) if len(w) > 1 and w.lower() not in _QUESTION_WORDS]
        return candidates[-1].lower() if candidates else None

    @staticmethod
    def _stray_form(word: str, forms: tuple[str, ...], steps: str) -> str | None:
        """What in the steps contradicts the answer: another form of the word that a step gives as its result
        ('Its plural is babybabe'), or a suffix a step tells to add that no accepted form ends in."""
        stem = word.lower()[: max(3, len(word) - 2)]
        accepted = {word.lower(), *(f.lower() for f in forms)}
        claimed = _QUOTED.findall(steps) + [m.group(1) for m in _RESULT.finditer(steps)]
        for token in claimed:
            low = token.strip().lower()
            if low.startswith(stem) and low not in accepted:
                return token.strip()
        for m in _ADD_SUFFIX.finditer(steps):
            if not _NEGATED.search(steps[max(0, m.start() - 12) : m.start()]) and not any(
                f.lower().endswith(m.group(1).lower()) for f in forms
            ):
                return m.group(0)
        return None


# 'Its plural is babies', '"baby" becomes "babies"': the word a step gives as a result.
_RESULT = re.compile(r"\b(?:is|are|becomes|gives)\s+[\"“'‘*]*([A-Za-z][A-Za-z\-]*)", re.I)
# 'add -es', 'adds -ed': a suffix a step tells to add.
_ADD_SUFFIX = re.compile(r"\badd(?:s|ing)?\s+(?:an?\s+)?[\"'‘“]?-([a-z]+)", re.I)
_NEGATED = re.compile(r"\b(?:not|never|don't|doesn't|no)\s*$", re.I)


# Words of a question that never name what it asks about.
_QUESTION_WORDS = frozenset(
    "what is the of a an plural past tense form comparative superlative capital write give word two one".split()
)
