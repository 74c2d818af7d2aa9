"""Deterministic text transforms of a worked solution: what the formal adaptation strategies do to its lines.

Teachers write markdown, LaTeX, numbered lists and long paragraphs; a tiny student spends its few tokens
on none of that. Each function here is a pure function of text, so each step's before and after is
reproducible and tested on its own.
"""

from __future__ import annotations

import re

from ioa.domains.base import extract_answer

# LaTeX commands whose argument is kept as plain text, and symbols written out.
_LATEX_KEEP = re.compile(r"\\(?:boxed|text|textbf|textit|mathrm|mathbf|operatorname|emph)\s*\{([^{}]*)\}")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_LATEX_SYMBOLS = {
    r"\times": "*",
    r"\cdot": "*",
    r"\div": "/",
    r"\leq": "<=",
    r"\le": "<=",
    r"\geq": ">=",
    r"\ge": ">=",
    r"\neq": "!=",
    r"\approx": "~",
    r"\pm": "+/-",
    r"\quad": " ",
    r"\qquad": " ",
    r"\left": "",
    r"\right": "",
    r"\,": " ",
    r"\;": " ",
    r"\!": "",
}
_LATEX_DELIMITERS = re.compile(r"\\[()\[\]]|\$\$?")
_LATEX_ANY = re.compile(r"\\[A-Za-z]+")
# Emphasis around a word, never the "*" of a product ("3 * 4" has spaces on both sides).
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_\n]+?)(?<=\S)\1(?![\w*])")
_HEADING = re.compile(r"^\s*(?:#{1,6}|>+)\s*", re.M)
_FENCE = re.compile(r"^\s*```.*$", re.M)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", re.M)
# A bullet or a list number is followed by a space; without one it is a sign or a decimal ("-4 * 2", "3.5").
_DECORATION = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|step\s*\d+\s*[:.)-])(?:\s+|$)", re.I)
# A line that only restates the answer ("Answer: 12", "So the final answer is 12."): the target's own last line
# says it once.
_ANSWER_LINE = re.compile(r"^\W*(?:so,?\s+|thus,?\s+|therefore,?\s+)?(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=)", re.I)
# A heading-like line that only announces the working ("Solution:", "Step-by-step explanation").
_LABEL_LINE = re.compile(
    r"^\W*(?:step[- ]by[- ]step\s+)?(?:worked\s+)?(?:solution|explanation|steps|working|reasoning)\W*$", re.I
)
# A sentence ends at . ! or ? followed by a space and a capital, a digit or a quote ("3.5" and "e.g. the" stay whole).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“'(])|;\s+")
# Where a clause of its own starts inside a sentence: ", so we ...", ", then add ...".
_CLAUSE = re.compile(r",\s+(so|then|and then)\s+", re.I)
_QUOTED = re.compile(r"[\"“‘']([^\"”’']{1,40})[\"”’']")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_LEFTOVER = re.compile(r"[\\{}$#|`]|\*\*")
_MARKER = re.compile(r"answer\s*(?:is|:|=)", re.I)
_BOXED = re.compile(r"\\boxed\s*\{([^{}]*)\}")


def strip_markup(text: str) -> str:
    """Markdown and LaTeX written out as plain text: ``**boxes**`` -> boxes, ``\\frac{3}{4}`` -> 3/4."""
    text = _FENCE.sub("", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub("", text)
    for _ in range(3):  # nested commands, innermost first
        text = _LATEX_KEEP.sub(r"\1", text)
        text = _LATEX_FRAC.sub(r"\1/\2", text)
        text = _LATEX_SQRT.sub(r"sqrt(\1)", text)
    for symbol, plain in sorted(_LATEX_SYMBOLS.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(symbol, plain)
    text = _LATEX_DELIMITERS.sub("", text)
    text = _LATEX_ANY.sub(lambda m: m.group(0)[1:], text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\2", text)
    text = text.replace("`", "")
    return "\n".join(re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.splitlines())


def solution_lines(steps: str) -> list[str]:
    """The steps as non-empty lines, without the lines that only restate the answer or announce the working."""
    lines = (line.strip() for line in steps.splitlines())
    return [line for line in lines if line and not _ANSWER_LINE.match(line) and not _LABEL_LINE.match(line)]


def undecorated(line: str) -> str:
    """A line without its bullet, list number or "Step N:" label."""
    previous = None
    while previous != line:  # "1. Step 1: ..." carries two
        previous, line = line, _DECORATION.sub("", line).strip()
    return line


def one_idea_per_line(lines: list[str]) -> list[str]:
    """Each sentence on its own line, a sentence's clauses joined by ", so" or ", then" too; no list decoration."""
    out = []
    for line in lines:
        for sentence in _SENTENCE_END.split(undecorated(line)):
            out += _clauses(sentence.strip()) if sentence and sentence.strip() else []
    return out


def _clauses(sentence: str) -> list[str]:
    """A sentence split where a clause of its own starts (", so ...", ", then ..."), when both halves say something."""
    match = _CLAUSE.search(sentence)
    if match is None:
        return [sentence]
    head, tail = sentence[: match.start()], sentence[match.end() :]
    if len(head.split()) < 3 or len(tail.split()) < 3:
        return [sentence]
    return [f"{head}.", *_clauses(f"{match.group(1).capitalize()} {tail}")]


def long_sentences(lines: list[str], max_words: int) -> list[str]:
    """The sentences of ``lines`` longer than ``max_words`` words."""
    sentences = [s for line in lines for s in _SENTENCE_END.split(line) if s]
    return [s for s in sentences if len(s.split()) > max_words]


def plain_words_problems(lines: list[str], max_words: int) -> list[str]:
    """Why the lines fail the plain-words check (markup left, long sentences); empty when they pass."""
    problems = []
    if any(_LEFTOVER.search(line) for line in lines):
        problems.append("markup left")
    if long := long_sentences(lines, max_words):
        problems.append(f"{len(long)} sentence(s) over {max_words} words")
    return problems


def instance_tokens(problem: str) -> set[str]:
    """What makes a problem concrete: its quoted words, its numbers and its capitalised names (lower case)."""
    tokens = {q.strip().lower() for q in _QUOTED.findall(problem)}
    tokens |= set(_NUMBER.findall(problem))
    words = _WORD.findall(problem)
    tokens |= {w.lower() for w in words[1:] if w[0].isupper() and w.lower() not in {"i"}}
    return {t for t in tokens if t}


def mentions(line: str, tokens: set[str]) -> bool:
    """Whether ``line`` names one of ``tokens`` (whole words or numbers, any case)."""
    low = line.lower()
    return any(re.search(rf"(?<![\w.]){re.escape(t)}(?![\w])", low) for t in tokens)


def templated(lines: list[str]) -> list[str]:
    """One step template: ``Step 1: ...``, ``Step 2: ...``."""
    return [f"Step {i}: {undecorated(line)}" for i, line in enumerate(lines, 1)]


def normalized_answer(text: str) -> str:
    """An answer reduced for comparison: its boxed or marked part, without markup, case or end punctuation."""
    if boxed := _BOXED.findall(text):
        text = boxed[-1]
    elif markers := list(_MARKER.finditer(text)):
        text = text[markers[-1].end() :]
    text = strip_markup(text).strip().strip("\"'“”‘’").strip()
    text = re.sub(r"[.!,;:]+$", "", text).strip().strip("\"'“”‘’")
    return re.sub(r"\s+", " ", text).lower()


def same_answer(stated: str, reply: str) -> bool:
    """Whether a free-text reply gives the stated answer: the same words, or the same number."""
    a, b = normalized_answer(stated), normalized_answer(reply)
    if a and (a == b or b.endswith(f" {a}")):  # "boxes", or a sentence ending in it ("the plural is boxes")
        return True
    number = extract_answer(a, "number")
    return bool(_NUMBER.fullmatch(number.lstrip("-"))) and number == a and extract_answer(b, "number") == number
