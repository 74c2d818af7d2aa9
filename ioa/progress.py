"""Progress display: a line per node and a bar per long step (rich), or nothing at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Advance = Callable[..., None]


class RunProgress:
    """Shows which node and round are running, and how far each long step has got."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._bars = (
            Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[note]}"),
                console=self.console,
                transient=True,
                # In Jupyter, rich's stdout/stderr proxy re-enters itself when a library's tqdm bar
                # writes to stderr (RecursionError); there the bars are display outputs anyway.
                redirect_stdout=not self.console.is_jupyter,
                redirect_stderr=not self.console.is_jupyter,
            )
            if enabled
            else None
        )

    def __enter__(self) -> RunProgress:
        if self._bars:
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars:
            self._bars.stop()

    def node(self, name: str, round_: int, message: str) -> None:
        if self._bars:
            self._bars.console.log(f"[cyan]round {round_}[/] [bold]{name:<9}[/] {message}")

    @contextmanager
    def step(self, description: str, total: int) -> Iterator[Advance]:
        """A bar for ``total`` units of work; the caller advances it, optionally with a note."""
        if not self._bars:
            yield lambda n=1, note="": None
            return
        task = self._bars.add_task(description, total=total, note="")

        def advance(n: int = 1, note: str = "") -> None:
            self._bars.update(task, advance=n, note=note)

        try:
            yield advance
        finally:
            self._bars.remove_task(task)
