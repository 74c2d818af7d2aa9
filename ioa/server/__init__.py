"""LangGraph Server deployment: the graph factory langgraph.json names (``graph``), the request a caller sends
(``request``), one served run's life on the server (``run``), ioa's errors as the server reports them (``errors``)
and a Postgres checkpointer for langgraph.json's ``checkpointer.path`` (``checkpointer``). docs/deploy.md tells how
to deploy."""
