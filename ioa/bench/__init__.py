"""`ioa bench`: the pedagogy benchmark, IOA against distillation baselines at equal teacher budget.

``command.bench`` runs it; ``runner`` schedules the trials, ``trial`` is the equal-budget harness,
``strategies`` the strategies, ``oracle`` the oracle teacher and ``results`` the outputs.
"""
