#!/usr/bin/env bash
# NeuroTunes: set up everything (apt packages, a virtual environment, pip) and run it.
#
#   bash run.sh app          # install what is missing, then serve the app at http://localhost:8501
#   bash run.sh test [ARGS]  # the same set-up plus test tools, then the whole test suite (ARGS go to pytest)
#
# Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode="${1:-app}"
shift || true
case "$mode" in app|test) ;; *) echo "usage: bash run.sh app|test [pytest args]" >&2; exit 2 ;; esac

say() { printf '\033[1mneurotunes:\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root for: $*  (install it by hand, then re-run)"; return 1
  fi
}

missing=()
ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so' || missing+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluid-soundfont-gm)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)  # phone recordings (m4a/aac/opus) and other formats
if [ "$mode" = test ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The gallery tests also run on PostgreSQL: each test session starts its own private server from these
  # binaries (tests/postgres_server.py) and stops it at the end.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY="$cand"; break
    fi
  done
fi
if [ -z "$PY" ]; then
  missing+=(python3.11 python3.11-venv)
  PY=python3.11
elif [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3.11-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  say "creating virtual environment in .venv with $PY"
  "$PY" -m venv .venv
fi

reqs=requirements.txt
[ "$mode" = test ] && reqs=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt "$reqs" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python packages from $reqs (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -r "$reqs"
  # This checkout itself, editable: the `neurotunes` command (the same as `python -m neurotunes`).
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  touch "$stamp"
fi

if [ "$mode" = app ]; then
  # Two malloc arenas instead of glibc's 8 per core: a server of many threads otherwise keeps freed memory
  # in each (benchmarks.load: 753 -> 615 MB a minute after 5 users and a training run).
  export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
  say "starting NeuroTunes at http://localhost:8501"
  exec .venv/bin/python -m streamlit run app.py --server.port "${PORT:-8501}" "$@"
fi
export NEUROTUNES_REQUIRE_POSTGRES=1  # here a PostgreSQL that cannot start fails the gallery tests
exec .venv/bin/python -m pytest "$@"
