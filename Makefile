# Set-up and everyday commands. Each target creates or refreshes the virtual environment
# in .venv first, so `make demo` and `make test` work on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,plot,dask]'
	touch $(STAMP)

setup: $(STAMP)

# SuperCollider (scsynth, sclang) and JACK for the engine tests, from Debian when missing.
system:
	.ci/install-system

demo: $(STAMP)
	$(BIN)/styletransfer demo --force -o demo-output

lint: $(STAMP)
	$(BIN)/ruff check styletransfer tests benchmarks presets
	$(BIN)/mypy

test: lint system
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis
