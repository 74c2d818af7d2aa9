"""Where a teacher's reply has left the answer it was asked for, so that the client stops reading it there.

A small teacher that has written its exercises often goes on: it writes the request's own fields back
("skill: ...", "items: ..."), as if it were writing the next request, or it loops on one line. Nothing after that
point parses, and on a batching server every token it still decodes slows the replies decoded beside it. In the
embedded teacher's synthesis replies, 45% of the text came after such a line, and 4% of the parsed exercises
(r21-r25, 602 replies).

It also loops within one line: a paragraph after the exercises that says the same sentence over and over ("It is
used to create patterns. It is used to create patterns. ...") until the completion cap. Such a reply decodes alone
at the end of its wave, which waits for it (r39: the last reply of a wave of 16 took 155 s, the others 65-138 s).
A sentence written for the third time within one line is that loop. Across lines a sentence may rightly repeat (one
step template for every exercise), so only a line's own sentences are counted; of 562 synthesis replies of r33-r39,
the rule cut 5, about 1,300 tokens, and none of their 666 parsed exercises. A clause ends at a semicolon as well: a
problem that lists words ("book"; "dog"; "moose"; "dog"; ...) ran one line to 680 tokens in r42, 45 s alone at the
end of its wave. Of 762 replies of r33-r42, clauses cut 7 (about 5,900 characters) against sentences' 4 (1,800),
and none of their 975 parsed exercises.

The programs of ``DERAIL_PROGRAMS`` read their replies as they arrive (``ioa.teacher.engine``) and stop at the
first such line. The labels come from the program's signature, so a swapped or optimized prompt keeps its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import dspy

from ioa.teacher.prompt_format import field_label

REPEATS = 3
"""A complete line written for the third time is a loop: an exercise set repeats a line at most by accident. So is a
clause (a sentence, or a part of one up to a semicolon) written for the third time within one line."""

_CLAUSE = re.compile(r"[^.!?;\n]*[.!?;]")

DERAIL_PROGRAMS = frozenset({"synthesize_new", "synthesize_remedial", "synthesize_bridging"})
"""The programs whose replies are long enough to derail: the synthesis requests, which ask for J exercises."""


def derail_point(signature: type[dspy.Signature]) -> Callable[[str], int | None]:
    """A function of the reply so far: the offset where it derailed, else None.

    It derails at the first line, after the reply's first, that starts with one of the request's labels (its input
    fields, or its output field a second time), at a complete line written for the ``REPEATS``-th time, or at a
    clause written for the ``REPEATS``-th time within its line.
    """
    labels = [field_label(n) for n in (*signature.input_fields, *signature.output_fields)]
    starts_with_label = re.compile(r"^[\W_]*(?:" + "|".join(map(re.escape, labels)) + r")\s*:", re.I)

    def derailed_at(text: str) -> int | None:
        seen: Counter[str] = Counter()
        offset, started = 0, False
        for line in text.splitlines(keepends=True):
            said, complete = line.strip(), line.endswith(("\n", "\r"))
            if started and said and (starts_with_label.match(said) or (complete and seen[said] >= REPEATS - 1)):
                return offset
            loop = _looping_clause(line)
            if loop is not None:
                return offset + loop
            if said:
                started = True
                seen[said] += complete
            offset += len(line)
        return None

    return derailed_at


def _looping_clause(line: str) -> int | None:
    """Where in ``line`` a clause of it starts for the ``REPEATS``-th time, else None."""
    seen: Counter[str] = Counter()
    for match in _CLAUSE.finditer(line):
        clause = " ".join(match.group().split()).lower()
        if not clause:
            continue
        seen[clause] += 1
        if seen[clause] >= REPEATS:
            return match.start() + len(match.group()) - len(match.group().lstrip())
    return None
