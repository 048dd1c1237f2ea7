# The README's commands. Every target sets itself up: a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export GECKO_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(GECKO_DATA_DIR)/dagster_home

.PHONY: install run dev test bench lint fmt clean

$(BIN)/gecko-pipeline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e ./sandboxes
	touch $@

install: $(BIN)/gecko-pipeline

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

## run: start the embedded sandbox, run the main job against it, show what it did, stop the sandbox
run: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/gecko-pipeline demo

## dev: sandbox + gateway (webhooks, order intake) + the Dagster UI on http://127.0.0.1:3000
dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/gecko-pipeline dev

## test: the whole test suite (the sandbox runs in-process on 127.0.0.1), whole modules spread over
## TEST_WORKERS processes (most tests wait on sockets and rate-limit windows, so more than the cores)
TEST_WORKERS ?= 4
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## bench: the benchmarks, printing figures (takes several minutes); BENCH="extract orders" runs only those
bench: install
	$(BIN)/python -m bench $(BENCH)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
