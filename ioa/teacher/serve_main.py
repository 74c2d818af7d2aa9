"""The embedded server's process: `transformers serve`, which ends with the process that started it.

``python -m ioa.teacher.serve_main PARENT_PID serve FOLDER ...``. It ends with its parent (``ioa.lifetime``), so a
parent killed with SIGKILL (where atexit never runs) leaves no orphan server. It calls ``app()`` rather than
``main()``, which first asks PyPI for a newer transformers.

`transformers serve` runs the model in a process of its own, started with ``spawn``, which imports this module again
(as ``__mp_main__``) before anything else: so the attention registered at the top level below is the one the model
runs with. On a CPU that is ``ioa.teacher.cpu_attention``'s per-request SDPA; a GPU keeps transformers' kernels.
"""

from __future__ import annotations

import multiprocessing
import sys

import torch

if not torch.cuda.is_available():
    from ioa.teacher.cpu_attention import register

    register()
    # In the server's log, once for this process and once for the model's ("model"), so a reader can see which runs it.
    print(
        f"[ioa] {multiprocessing.current_process().name}: SDPA per packed request (ioa.teacher.cpu_attention)",
        file=sys.stderr,
    )


def main() -> None:
    from ioa.lifetime import exit_with_parent

    exit_with_parent(int(sys.argv.pop(1)))
    from transformers.cli.transformers import app

    sys.exit(app())


if __name__ == "__main__":
    main()
