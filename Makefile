# The two commands of the README: `make demo` (set up, then the tour) and `make test` (set up, then the tests).
# `make demo` installs only what the tour and the explorer need (dlf and its `explore` extra); `make test` adds the
# test tools (the `dev` extra: pytest, pytest-xdist, ruff, playwright, gensim, tensorboard). pip shows its progress as it goes.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_CPU := torch==2.13.0
CHROMIUM := /usr/bin/chromium

.PHONY: setup setup-dev demo test lint clean

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

# torch first, and only when none is present, so that a CUDA build you installed yourself is kept.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || { echo "make: installing $(TORCH_CPU) into $(VENV)"; \
	  $(PY) -m pip install "$(TORCH_CPU)"; }
	@echo "make: installing dlf and what the tour and the explorer need into $(VENV)"
	$(PY) -m pip install -e ".[explore]"
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	@echo "make: adding the test tools (pytest, pytest-xdist, ruff, playwright, gensim, tensorboard)"
	$(PY) -m pip install -e ".[dev,explore]"
	@touch $@

demo: setup
	$(VENV)/bin/dlf tour

# pytest exits 0 when all passed, 1 on failures, 5 when it collected no test: anything but 0 fails the target.
# The tests run in TEST_JOBS processes (pytest-xdist): 2 take about 6 minutes on two cores, one about 8.5.
TEST_JOBS ?= 2
test: setup-dev
	@if [ -x $(CHROMIUM) ]; then echo "make: browser tests run with $(CHROMIUM)"; \
	  else echo "make: browser tests are SKIPPED: no chromium at $(CHROMIUM) (apt-get install chromium, or run" \
	    "scripts/ci-browser-deps.sh as root)"; fi
	@$(PY) -m pytest -q -n $(TEST_JOBS); s=$$?; \
	  if [ $$s -eq 5 ]; then echo "pytest collected no tests (exit 5): failing"; \
	  elif [ $$s -ne 0 ]; then echo "pytest exit $$s"; fi; exit $$s

lint: setup-dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf runs .pytest_cache
