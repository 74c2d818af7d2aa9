"""Every teacher prompt, as a DSPy Signature, in one place.

A signature's docstring is its instruction. `ioa optimize-prompts` rewrites the
instructions and demos of these programs and saves them as JSON state, which
`teacher.programs.NAME` in the config swaps back in.
"""

from __future__ import annotations

import dspy


class AnswerProbe(dspy.Signature):
    """Solve the problem. Reply with the final answer only: a number or a short phrase."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="the final answer only")


class WriteWorkedSolution(dspy.Signature):
    """You are a patient maths tutor. Solve the exercise for a beginner in a few short steps,
    then give the final answer."""

    skill: str = dspy.InputField(desc="the skill this exercise practises")
    exercise: str = dspy.InputField()
    steps: str = dspy.OutputField(desc="two to four short steps, one per line")
    answer: str = dspy.OutputField(desc="the final answer only")


class SimplifyForStudent(dspy.Signature):
    """Rewrite the worked solution for a very small student model: plain words, one idea per line,
    small numbers first, at most the given number of words. Keep the same final answer."""

    exercise: str = dspy.InputField()
    steps: str = dspy.InputField()
    word_limit: int = dspy.InputField()
    simplified_steps: str = dspy.OutputField()


PROGRAMS: dict[str, type[dspy.Signature]] = {
    "answer_probe": AnswerProbe,
    "worked_solution": WriteWorkedSolution,
    "simplify": SimplifyForStudent,
}
"""The teacher programs by name: the names `teacher.programs` and `ioa optimize-prompts` use."""
