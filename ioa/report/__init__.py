"""`ioa report`: report.html and plots/*.png of a run directory, from its files alone."""

from __future__ import annotations

from pathlib import Path

from ioa.report.data import ReportData, load_report_data
from ioa.report.page import render_page
from ioa.report.plots import write_plots
from ioa.rundir import atomic_write

__all__ = ["ReportData", "load_report_data", "write_report"]


def write_report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/plots/*.png and the self-contained RUN_DIR/report.html; returns the page's path."""
    data = load_report_data(run_dir)
    plots = write_plots(data, data.run_dir / "plots")
    page = data.run_dir / "report.html"
    atomic_write(page, render_page(data, plots))
    return page
