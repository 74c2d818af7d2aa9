"""`ioa bench`: the pedagogy benchmark, IOA against distillation baselines at equal teacher budget."""

from ioa.bench.results import write_results
from ioa.bench.runner import quick, run_bench

__all__ = ["quick", "run_bench", "write_results"]
