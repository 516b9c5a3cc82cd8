#!/usr/bin/env bash
# What the explorer's browser tests need (tests/test_explore_browser.py) beyond `make test`'s own set-up (which
# installs gradio and playwright with the `explore` and `dev` extras): Debian's chromium at /usr/bin/chromium.
# Playwright never downloads a browser here: the tests drive /usr/bin/chromium. Idempotent and quiet; .ci/run calls
# it before `make test`, which then says whether the browser tests run or are skipped, and why.
set -euo pipefail
cd "$(dirname "$0")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } \
      || echo "ci-browser-deps: apt-get could not install chromium; the browser tests will skip" >&2
  else
    echo "ci-browser-deps: /usr/bin/chromium is missing and cannot be installed here; the browser tests will skip" >&2
  fi
fi
