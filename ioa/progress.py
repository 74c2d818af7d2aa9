"""Progress display: progress events (ioa/events.py) as a line per node report and a bar per long step (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ioa.events import Event, NodeMessage, Reporter, StepProgress


class RunProgress(Reporter):
    """Shows which node and round are running, and how far each long step has got, or nothing when disabled.

    ``show`` renders any run's events (``ioa run`` shows its own stream through it); as a ``Reporter`` it renders
    what code outside a graph reports to it directly (the teacher's start-up for ``ioa optimize-prompts``).
    """

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self._tasks: dict[tuple[str, int, str], int] = {}
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

    def emit(self, event: Event) -> None:
        self.show(event)

    def show(self, event: Event) -> None:
        """Render one event: a node's message as a log line, a step as a bar that goes when the step ends."""
        if not self._bars:
            return
        if isinstance(event, NodeMessage):
            self._bars.console.log(f"[cyan]round {event.round}[/] [bold]{event.node:<9}[/] {event.summary}")
        elif isinstance(event, StepProgress):
            self._show_step(event)

    def _show_step(self, event: StepProgress) -> None:
        assert self._bars is not None
        key = (event.node, event.round, event.summary)
        if event.finished:
            task = self._tasks.pop(key, None)
            if task is not None:
                self._bars.remove_task(task)
            return
        if key not in self._tasks:
            self._tasks[key] = self._bars.add_task(event.summary, total=event.numbers["total"], note="")
        self._bars.update(self._tasks[key], completed=event.numbers["done"], note=event.note)
