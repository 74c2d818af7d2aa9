"""A DSPy adapter that small teachers can follow: plain ``field: value`` lines.

DSPy's ChatAdapter frames each field with ``[[ ## name ## ]]`` markers and a page of
format rules; a 135M-parameter teacher echoes the rules instead of answering. This
adapter asks for ``name: value`` lines only, and repairs the commonest slip (an answer
with no label) when exactly one output field is missing. Large teachers follow it too.
"""

from __future__ import annotations

import re
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError


def _label(name: str) -> str:
    return name.replace("_", " ")


class PlainAdapter(dspy.Adapter):
    """Formats signatures as short labelled lines and parses them back."""

    def format_field_description(self, signature: type[dspy.Signature]) -> str:
        return ""

    def format_field_structure(self, signature: type[dspy.Signature]) -> str:
        lines = [
            f"{_label(name)}: <{field.json_schema_extra.get('desc') or name}>"
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
        body = "\n".join(f"{_label(name)}: {inputs[name]}" for name in signature.input_fields if name in inputs)
        return "\n".join(part for part in (prefix, body, suffix) if part)

    def format_assistant_message_content(
        self,
        signature: type[dspy.Signature],
        outputs: dict[str, Any],
        missing_field_message: str | None = None,
    ) -> str:
        return "\n".join(
            f"{_label(name)}: {outputs.get(name, missing_field_message or '')}" for name in signature.output_fields
        )

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        names = {_label(name).lower(): name for name in signature.output_fields}
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
        if missing and leftover and len(missing) == len(signature.output_fields):
            # No label at all: the last line is the last field (the answer), the rest the first.
            *body, last = leftover.splitlines()
            if len(missing) == 1:
                parsed[missing[0]] = leftover
            elif len(missing) == 2 and body:
                parsed[missing[0]], parsed[missing[1]] = "\n".join(body).strip(), last.strip()
            missing = [name for name in signature.output_fields if not parsed.get(name)]
        elif len(missing) == 1 and leftover:
            parsed[missing[0]] = leftover
            missing = []
        if missing:
            raise AdapterParseError(
                adapter_name="PlainAdapter", signature=signature, lm_response=completion, parsed_result=parsed
            )
        # Every teacher output field is text (ioa.signatures), so no type coercion is needed.
        return {name: parsed[name] for name in signature.output_fields}
