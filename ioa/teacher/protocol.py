"""The one teacher interface: what the graph, the bench and the tests ask of any teacher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import dspy


class Teacher(Protocol):
    """Runs the named teacher programs (``ioa.teacher.signatures.PROGRAMS``) on many inputs and counts their cost.

    ``ioa.teacher.client.ChatTeacher`` sends them to an OpenAI-compatible endpoint; the bench's ``OracleTeacher``
    answers exactly from the generators, and its ``CappedTeacher`` holds any teacher to a synthesis budget.
    """

    def run(
        self,
        name: str,
        inputs: Sequence[dict[str, Any]],
        *,
        round: int,
        node: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        draw: str = "",
        on_done: Callable[[], None] | None = None,
    ) -> list[dspy.Prediction | None]:
        """Run program ``name`` on every input, in order; None marks an item dropped (unparseable, failed, unpaid).

        ``round`` and ``node`` say who asks, for traces and accounting. ``temperature`` and ``max_tokens`` replace
        the configured sampling for this call (a teacher that does not sample ignores them). ``draw`` tells apart
        calls of one node in one round that may repeat inputs (teach attempts), so that their sampled answers are
        cached as separate draws. ``on_done`` is called once per finished item, for progress bars.
        """
        ...

    def snapshot(self) -> dict[str, int]:
        """The running counters: calls, tokens, cache hits, parse failures, drops, faults."""
        ...

    def usage_since(self, before: dict[str, int]) -> dict[str, float]:
        """The counters added since ``before`` (a ``snapshot``), keyed for the state's ``usage`` reducer."""
        ...
