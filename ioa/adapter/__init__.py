"""The Knowledge Adapter's parts: verification, the five adaptation strategies, the length fit, practice.

The graph's node is ``ioa.agents.adapter.adapt_batch``; it reads the teacher's exercises, and these modules
verify them (``verify``), adapt them step by step (``strategies``, ``rewrite``, ``text``), fit them to the
student (``fit``) and record what happened (``pipeline``). Checker-written practice (``practice``) is a
supplement that is off unless asked for.
"""
