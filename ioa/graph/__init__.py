"""The LangGraph graph: its nodes' wiring, runtime context and runner."""
