# The study's interface. `make` alone lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXP ?= baseline
PENSION_DATA_DIR ?= ../shared/data
export PENSION_DATA_DIR

CODE := $(shell find models -name '*.py' 2>/dev/null)
CALIBRATION := $(wildcard calibration/china/*.toml calibration/china/derived/*.csv)

.PHONY: help setup run test experiment calibrate validate bench clean

help: ## List the targets
	@echo "China pension-reform study. Targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "Variables: EXP=<experiment name> (default baseline), PENSION_DATA_DIR (raw data for calibrate)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(STAMP) ## Create .venv and install the project with its test tools

results/%/results.nc: experiments/%.toml $(CALIBRATION) $(CODE) | $(STAMP)
	$(BIN)/pension run $< --force

run: results/baseline/results.nc ## Run the main job (default experiment) and print its report
	$(BIN)/pension report results/baseline

experiment: results/$(EXP)/results.nc ## Run one experiment: make experiment EXP=name
	$(BIN)/pension report results/$(EXP)

validate: $(STAMP) ## Validate the calibration files and every experiment
	$(BIN)/pension validate calibration/china
	@for f in experiments/*.toml; do $(BIN)/pension validate $$f; done

calibrate: $(STAMP) ## Re-derive calibration/china/derived/*.csv from the raw data (PENSION_DATA_DIR)
	$(BIN)/pension calibrate --data-dir $(PENSION_DATA_DIR) --calibration calibration/china

test: $(STAMP) ## Run the test suite
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## Run every benchmark and write results/bench.json (several minutes)
	$(BIN)/python benchmarks/run_all.py results/bench.json

clean: ## Remove results and caches (keeps .venv)
	rm -rf results/*/ .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
