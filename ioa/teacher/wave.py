"""A wave of synthesis requests sent together, and its stragglers.

A wave lasts as long as its longest reply. On the embedded CPU teacher most replies of a wave of 16 end after about
30 s, and the last one, decoding alone, at 45-90 s (r40-r44): a reply that rambles past its exercises ("The mistake
is in ..."), or writes ten of them where the others wrote one. Once half the wave has finished, the rest get until
``STRAGGLER_FACTOR`` times the time that took; then the client stops reading them, and keeps each one up to its last
complete line, so a straggler's finished exercises are kept. Replayed on the 33 waves of r40-r44 and a fresh clone
(each reply's text taken as streamed at an even pace), the cut would have saved 15 s a wave and lost 16 of 689
parsed exercises; at twice the time, 5 s and 3.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

STRAGGLER_FACTOR = 1.5
"""How long the rest of a wave may run, in multiples of the time half of it took to finish."""


class Wave:
    """The requests of one batch, in flight together: which have finished, and whether the rest are now late."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._start = clock()
        self._finished: list[float] = []
        self._lock = threading.Lock()

    def done(self, paid: bool = True) -> None:
        """One request of the wave has finished; one answered from the response cache (not ``paid``) took no time,
        and is left out of the wave, or a resumed step's cached half would leave the others no time at all."""
        with self._lock:
            if paid:
                self._finished.append(self._clock() - self._start)
            else:
                self.size -= 1

    def late(self) -> bool:
        """Whether half the wave has finished and the rest have run past ``STRAGGLER_FACTOR`` times that."""
        with self._lock:
            half = -(-self.size // 2)
            if half < 1 or len(self._finished) < half:
                return False
            return self._clock() - self._start > STRAGGLER_FACTOR * self._finished[half - 1]
