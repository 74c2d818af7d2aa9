"""The teacher: its interface (``Teacher``), its prompts (DSPy signatures), the client that sends them to any
OpenAI-compatible endpoint, the response cache, the retry policy, the ledger read from traces, and the embedded
local server."""

from ioa.teacher.protocol import Teacher

__all__ = ["Teacher"]
