#!/usr/bin/env bash
# Sets up a fresh machine: .venv with the pinned packages (constraints.txt), then the Delta jars into a
# local cache outside git (~/.cache/tradelake/jars). Idempotent: a no-op when nothing changed.
# Needs Python 3.11 and Java 17+; reaches PyPI and Maven Central only the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: $*" >&2; exit 1; }

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
       && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || fail "Python 3.11 is required (python3 is $(python3 --version 2>&1)). Install it or set PYTHON=/path/to/python3.11."
command -v java >/dev/null 2>&1 || fail "Java 17 or newer is required by Spark: install a JDK (e.g. apt-get install openjdk-17-jdk-headless)."
java_major=$(java -version 2>&1 | awk -F'"' '/version/ {print $2}' | cut -d. -f1)
[ "${java_major:-0}" -ge 17 ] || fail "Java 17 or newer is required by Spark, found: $(java -version 2>&1 | head -1)"

stamp=.venv/.installed
want=$(cat constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing the pinned packages into .venv (a few minutes the first time)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv || fail "could not create .venv with $PYTHON (on Debian: apt-get install python3.11-venv)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,airflow]" \
    || fail "pip install failed (see above). PyPI must be reachable (or set PIP_INDEX_URL to a mirror); then run make setup again."
  echo "$want" > "$stamp"
fi
.venv/bin/tradelake setup-jars >/dev/null \
  || fail "could not get the Delta jars (see above). They come from Maven Central once; set TRADELAKE_MAVEN_REPO to a mirror if needed, then run make setup again."
echo "setup: ready (.venv; Delta jars: $(.venv/bin/tradelake jars))"
