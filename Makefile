# Riffle: `make demo` and `make test` do all the set-up on a fresh machine (virtualenv and
# packages, Kafka broker jars from Maven Central, Redis from Debian).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export RIFFLE_KAFKA_BOOTSTRAP ?= 127.0.0.1:9092
export RIFFLE_REDIS_URL ?= redis://127.0.0.1:6379/0
# signs model versions in the registry; a development key: set your own in production
export RIFFLE_REGISTRY_KEY ?= riffle-local-development-key

.PHONY: install services-up services-down demo demo-embedded test test-unit check format lint types bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

services-up:
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

demo: install services-up
	$(BIN)/riffle demo --output bench/results/demo.json

demo-embedded: install
	$(BIN)/riffle demo --embedded

test: install services-up
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q -m "not integration"

format: install
	$(BIN)/ruff format streams models featurestore monitor tests

lint: install
	$(BIN)/ruff format --check streams models featurestore monitor tests
	$(BIN)/ruff check streams models featurestore monitor tests

types: install
	$(BIN)/mypy

check: lint types test

bench: install services-up
	$(BIN)/riffle bench drivers --runs 3

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
