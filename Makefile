# Two commands set everything up on a fresh machine with Python >= 3.11:
#   make demo   # venv + install + the whole lifecycle on sample logs, report in reports/
#   make test   # venv + install + the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz lint format bench bench-10m clean

$(STAMP): pyproject.toml setup.py logtool/_native.c logtool/_native_arrow.h
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/logtool demo

test: $(STAMP)
	$(BIN)/ruff check logtool tests bench
	$(BIN)/python -m pytest

# The fuzz and property suites with fresh randomness and 20x the examples (a few minutes).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest tests/test_fuzz.py tests/test_privacy.py tests/test_anonymize.py

lint: $(STAMP)
	$(BIN)/ruff check logtool tests bench
	$(BIN)/ruff format --check logtool tests bench

format: $(STAMP)
	$(BIN)/ruff format logtool tests bench
	$(BIN)/ruff check --fix logtool tests bench

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_ingest.py --lines 1000000 --big 10000000
	$(BIN)/python bench/bench_stages.py --lines 1000000 --parquet
	$(BIN)/python bench/bench_formats.py --lines 200000
	$(BIN)/python bench/bench_review.py --lines 1000000
	$(BIN)/python bench/bench_conversations.py --sentences 1000000

bench-10m: $(STAMP)
	$(BIN)/python bench/bench_ingest.py --lines 10000000 --no-peers --no-lifecycle

clean:
	rm -rf $(VENV) build *.egg-info bench/out .pytest_cache .ruff_cache logtool/*.so
