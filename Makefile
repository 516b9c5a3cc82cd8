# The two commands of the README: `make demo` (set up, then the tour) and `make test` (set up, then the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_CPU := torch==2.13.0

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_CPU)"
	$(PY) -m pip install -q -e ".[dev,explore]"
	@touch $@

demo: setup
	$(VENV)/bin/dlf tour

# pytest exits 0 when all passed, 1 on failures, 5 when it collected no test: anything but 0 fails the target.
test: setup
	@$(PY) -m pytest -q; s=$$?; \
	  if [ $$s -eq 5 ]; then echo "pytest collected no tests (exit 5): failing"; \
	  elif [ $$s -ne 0 ]; then echo "pytest exit $$s"; fi; exit $$s

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf runs .pytest_cache
