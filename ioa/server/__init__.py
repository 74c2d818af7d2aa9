"""LangGraph Server deployment: the graph factory langgraph.json names (``graph``), the request a caller sends
(``request``), and one served run's life on the server (``run``). docs/deploy.md tells how to deploy."""
