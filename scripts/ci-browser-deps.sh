#!/usr/bin/env bash
# What the explorer's browser tests need (tests/test_explore_browser.py): Debian's chromium at /usr/bin/chromium,
# and gradio and playwright in the project's virtualenv. Playwright never downloads a browser here: the tests drive
# /usr/bin/chromium. Idempotent and quiet; call it from .ci/run before `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
VENV=${VENV:-.venv}

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } \
      || echo "ci-browser-deps: apt-get could not install chromium; the browser tests will skip" >&2
  else
    echo "ci-browser-deps: /usr/bin/chromium is missing and cannot be installed here; the browser tests will skip" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || make -s setup >/dev/null
"$VENV/bin/python" -c "import gradio, playwright.sync_api" 2>/dev/null \
  || "$VENV/bin/python" -m pip install -q -e ".[dev,explore]"
