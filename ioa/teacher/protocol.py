"""The one teacher interface: what the graph, the bench and the tests ask of any teacher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import dspy

    from ioa.teacher.wave import Wave


@dataclass(frozen=True)
class Request:
    """The options of one ``Teacher.run`` call, as an implementation's ``answer`` receives them."""

    round: int
    node: str
    """Who asks (with ``round``), for traces and accounting."""
    temperature: float | None = None
    """Replaces the configured sampling temperature for this call (a teacher that does not sample ignores it)."""
    max_tokens: int | None = None
    """Replaces the configured completion cap for this call."""
    draw: str = ""
    """Tells apart calls of one node in one round that may repeat inputs (teach attempts), so that their sampled
    answers are cached as separate draws."""
    on_done: Callable[[], None] | None = None
    """Called once per finished item, for progress bars."""
    wave: Wave | None = None
    """The wave the items are sent in, with other calls' items maybe: a streamed reply stops when the wave has waited
    long enough for it (``ioa.teacher.wave``), and each finished item tells the wave. None waits for every reply."""


def usage_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """The teacher counters that changed between two snapshots, keyed for the state's ``usage`` reducer."""
    return {f"teacher_{k}": after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


class Teacher(Protocol):
    """Runs the named teacher programs (``ioa.teacher.signatures.PROGRAMS``) on many inputs and counts their cost.

    ``ioa.teacher.client.ChatTeacher`` sends them to an OpenAI-compatible endpoint; the bench's ``OracleTeacher``
    answers exactly from the generators, and its ``CappedTeacher`` holds any teacher to a synthesis budget. Each
    declares the protocol and writes ``answer`` and ``snapshot``; ``run`` and ``usage_since`` are shared.
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
        wave: Wave | None = None,
    ) -> list[dspy.Prediction | None]:
        """Run program ``name`` on every input, in order; None marks an item dropped (unparseable, failed, unpaid).

        The options are those of ``Request``.
        """
        return self.answer(name, inputs, Request(round, node, temperature, max_tokens, draw, on_done, wave))

    def answer(self, name: str, inputs: Sequence[dict[str, Any]], request: Request) -> list[dspy.Prediction | None]:
        """What ``run`` does, with its options as one ``Request``: the method each teacher writes."""
        ...

    def snapshot(self) -> dict[str, int]:
        """The running counters: calls, tokens, cache hits, parse failures, drops, faults."""
        ...

    def usage_since(self, before: dict[str, int]) -> dict[str, float]:
        """The counters added since ``before`` (a ``snapshot``), keyed for the state's ``usage`` reducer."""
        return usage_delta(before, self.snapshot())
