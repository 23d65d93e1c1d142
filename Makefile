# Peakline: `make demo` runs the bundled peak-day scenario end to end; `make test` runs the suite.
# Both create .venv and install the project on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# `make demo` installs what the project runs on; `make test` adds the dev extras on top.
RUNTIME := $(VENV)/.installed-runtime
DEV     := $(VENV)/.installed-dev

.PHONY: install demo test lint bench docs clean

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(DEV)

install: $(DEV)

demo: $(RUNTIME)
	$(BIN)/peakline simulate scenarios/peak_day.yaml --seed 1 --out out/demo

# three workers on two cores: most tests wait on servers, databases and browsers, so three
# files at a time keep both cores busy (a file's tests stay together on one worker, in
# collection order: tests/conftest.py puts the longest first)
test: $(DEV)
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=25

lint: $(DEV)
	$(BIN)/ruff check .

bench: $(DEV)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

docs: $(RUNTIME)
	$(BIN)/python -m reference_backend.compatibility

clean:
	rm -rf out .pytest_cache .ruff_cache
