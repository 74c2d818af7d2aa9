"""A DSPy adapter that small teachers can follow: plain ``field: value`` lines.

DSPy's ChatAdapter frames each field with ``[[ ## name ## ]]`` markers and a page of
format rules; a 135M-parameter teacher echoes the rules instead of answering. This
adapter asks for ``name: value`` lines only, and repairs the commonest slips: an answer
with no label when exactly one output field is missing, and a worked solution written as
unlabelled lines (often a single one, ``25% of 80 is 0.25 * 80 = 20.``). A repair only
fills the fields; whether the answer is right stays the verifier's call. Each repair is
reported to ``on_repair`` so that the teacher client can count it. Large teachers follow
the format too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

# The output fields of a worked solution: the working, then the result it reaches.
_DERIVATION = ("steps", "answer")
# The links of an equality chain. A derivation written on one line ("25% of 80 is 0.25 * 80 = 20.")
# ends with what it evaluates to, so the chain's last member is its final answer; the last number
# would cut "3/4" to "4", and the whole line would hand the verifier every intermediate value too.
_EQUALS = re.compile(r"=|\sis\s", re.I)


def field_label(name: str) -> str:
    """A field as the prompt writes it (``size_cap`` -> ``size cap``)."""
    return name.replace("_", " ")


def derived_answer(line: str) -> str:
    """The last member of the equality chain on ``line`` without its full stop; "" when the line has no chain."""
    *chain, last = _EQUALS.split(line)
    return last.strip().rstrip(".").strip() if chain else ""


class PlainAdapter(dspy.Adapter):
    """Formats signatures as short labelled lines and parses them back.

    ``on_repair`` is called with how a reply was repaired: ``unlabelled`` (a missing field
    filled with the unlabelled text), ``split`` (no label: the last line is the answer, the
    lines before it the steps) or ``derivation`` (no label: every line is a step and the
    answer is the last line's result).
    """

    def __init__(self, on_repair: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_repair = on_repair

    def format_field_description(self, signature: type[dspy.Signature]) -> str:
        return ""

    def format_field_structure(self, signature: type[dspy.Signature]) -> str:
        lines = [
            f"{field_label(name)}: <{field.json_schema_extra.get('desc') or name}>"
            for name, field in signature.output_fields.items()
        ]
        return "Reply in exactly this form:\n" + "\n".join(lines)

    def format_task_description(self, signature: type[dspy.Signature]) -> str:
        return signature.instructions

    def format_system_message(self, signature: type[dspy.Signature]) -> str:
        return f"{self.format_task_description(signature)}\n{self.format_field_structure(signature)}"

    def format_user_message_content(
        self,
        signature: type[dspy.Signature],
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        body = "\n".join(f"{field_label(name)}: {inputs[name]}" for name in signature.input_fields if name in inputs)
        return "\n".join(part for part in (prefix, body, suffix) if part)

    def format_assistant_message_content(
        self,
        signature: type[dspy.Signature],
        outputs: dict[str, Any],
        missing_field_message: str | None = None,
    ) -> str:
        return "\n".join(
            f"{field_label(name)}: {outputs.get(name, missing_field_message or '')}" for name in signature.output_fields
        )

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        names = {field_label(name).lower(): name for name in signature.output_fields}
        # "answer: 7", "**Answer:** 7", and the chattier "So, the answer is 7." all label a field.
        header = re.compile(
            r"^\W*(?:[\w,']+\s+){0,3}?(?:final\s+)?("
            + "|".join(map(re.escape, names))
            + r")\**(?:\s+is\s*:?|\s*:)\**\s*(.*)$",
            re.I,
        )
        fields: dict[str, list[str]] = {}
        current: str | None = None
        unlabeled: list[str] = []
        for line in completion.splitlines():
            match = header.match(line)
            if match:
                current = names[match.group(1).lower()]
                fields.setdefault(current, []).append(match.group(2))
            elif current is not None:
                fields[current].append(line)
            else:
                unlabeled.append(line)
        parsed = {name: "\n".join(lines).strip() for name, lines in fields.items()}
        missing = [name for name in signature.output_fields if not parsed.get(name)]
        leftover = "\n".join(unlabeled).strip()
        repair = ""
        if missing and leftover and len(missing) == len(signature.output_fields):
            repair = self._fill_unlabelled(signature, leftover, parsed)
        elif len(missing) == 1 and leftover:
            parsed[missing[0]], repair = leftover, "unlabelled"
        missing = [name for name in signature.output_fields if not parsed.get(name)]
        if missing:
            raise AdapterParseError(
                adapter_name="PlainAdapter", signature=signature, lm_response=completion, parsed_result=parsed
            )
        if repair and self.on_repair is not None:
            self.on_repair(repair)
        # Every teacher output field is text (ioa.teacher.signatures), so no type coercion is needed.
        return {name: parsed[name] for name in signature.output_fields}

    @staticmethod
    def _fill_unlabelled(signature: type[dspy.Signature], text: str, parsed: dict[str, str]) -> str:
        """Fields from a reply without any label, in ``parsed``; how it was done, or "" when it cannot be."""
        outputs = list(signature.output_fields)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        *body, last = lines
        if len(outputs) == 1:
            parsed[outputs[0]] = text
            return "unlabelled"
        if tuple(outputs) == _DERIVATION and (answer := derived_answer(last)):
            # The working ends in its result; all of it is the steps (the adapter keeps the lines that reach
            # the verified answer). A last line with no "=" or "is" derives nothing and is left to the split
            # below; alone (a bare "12", an apology) it is refused: no working to teach, and a re-ask may give one.
            parsed["steps"], parsed["answer"] = "\n".join(lines), answer
            return "derivation"
        if len(outputs) == 2 and body:
            parsed[outputs[0]], parsed[outputs[1]] = "\n".join(body), last
            return "split"
        return ""


def probe_messages(question: str) -> list[dict[str, str]]:
    """How a probe is asked, of the teacher and of the student alike: the question as one user turn.

    No system turn and no answer format: what P_T and P_S compare is the two models on the same words,
    scored by the same metric (docs/design.md §4), and a small model answers a plain question best.
    """
    return [{"role": "user", "content": question}]


class BareAdapter(dspy.Adapter):
    """Sends a one-input program as ``probe_messages`` and takes the whole reply as its one output.

    For the probe program (``answer_probe``): the teacher must be asked exactly as the student is, so
    neither the signature's instructions nor a field format reach the endpoint.
    """

    def format(self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]):  # noqa: ANN201
        [name] = signature.input_fields
        return probe_messages(str(inputs[name]))

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        [name] = signature.output_fields
        if not completion.strip():
            raise AdapterParseError(
                adapter_name="BareAdapter", signature=signature, lm_response=completion, parsed_result={}
            )
        return {name: completion.strip()}
