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
NP ?= 2
DIST_ARGS ?=
# make distributed: lshaped (our decomposition, chunks over the ranks) or ph (mpi-sppy)
METHOD ?= lshaped
# seconds per run of the scaling benchmark (bench_scaling.py); larger sizes are skipped
BENCH_BUDGET_S ?= 300
MPI_STAMP := $(VENV)/.mpi-stamp
PENSION_DATA_DIR ?= ../shared/data
export PENSION_DATA_DIR

CODE := $(shell find models -name '*.py' 2>/dev/null)
CALIBRATION := $(wildcard calibration/china/*.toml calibration/china/derived/*.csv)
# The study's table, figure and experiment-file code reads results.nc files and writes
# experiment files; it never changes a result, so editing it re-runs no experiment.
STUDY_ONLY := $(addprefix models/study/,study.py tables.py figures.py golden.py variants.py page.py)
RUN_CODE := $(filter-out $(STUDY_ONLY),$(CODE))
STUDY := $(BIN)/python -m models.study.study

# make tables SIZE=full (the study) or SIZE=small (the CI configuration: fewer paths,
# results/small/); the experiments of a size are every file in its experiment folder.
SIZE ?= full
ifeq ($(SIZE),full)
STUDY_RUNS := $(patsubst experiments/%.toml,results/%/results.nc,$(wildcard experiments/*.toml))
else ifeq ($(SIZE),small)
STUDY_RUNS := $(patsubst results/small/experiments/%.toml,results/small/%/results.nc,$(wildcard results/small/experiments/*.toml))
else
$(error SIZE must be full or small, got '$(SIZE)')
endif

.PHONY: help setup setup-mpi run test experiment tables golden study-runs distributed calibrate validate bench clean page

help: ## List the targets
	@echo "China pension-reform study. Targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "Variables: EXP=<experiment name> (default baseline), SIZE=full|small (tables, golden), NP=<MPI ranks> (default 2), PENSION_DATA_DIR (raw data for calibrate)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet -e '.[test,cf]' || echo "compliance-checker did not install: the CF checker test will be skipped"
	touch $@

setup: $(STAMP) ## Create .venv and install the project with its test tools

# One experiment: re-run only when its file, the calibration or the model code changed. The
# report goes to results/logs/<name>.log (`make experiment` and `make run` print it).
results/%/results.nc: experiments/%.toml $(CALIBRATION) $(RUN_CODE) | $(STAMP)
	@mkdir -p $(dir results/logs/$*)
	@echo "run $< -> $(@D)/"; start=$$SECONDS; \
	$(BIN)/pension run $< --force --results-dir $(patsubst %/,%,$(dir $(@D))) > results/logs/$*.log; \
	echo "  $* done in $$((SECONDS - start)) s (report: results/logs/$*.log)"

results/small/%/results.nc: results/small/experiments/%.toml $(CALIBRATION) $(RUN_CODE) | $(STAMP)
	@mkdir -p results/small/logs
	@echo "run $< -> $(@D)/"; start=$$SECONDS; \
	$(BIN)/pension run $< --force --results-dir results/small > results/small/logs/$*.log; \
	echo "  $* done in $$((SECONDS - start)) s (report: results/small/logs/$*.log)"

run: results/baseline/results.nc ## Run the main job (default experiment) and print its report
	$(BIN)/pension report results/baseline

experiment: results/$(EXP)/results.nc ## Run one experiment: make experiment EXP=name
	$(BIN)/pension report results/$(EXP)

tables: $(STAMP) ## Every study table and figure (runs what is missing or stale), checked against results/golden/
	$(STUDY) prepare --size $(SIZE)
	@$(MAKE) --no-print-directory study-runs SIZE=$(SIZE)
	$(BIN)/pension tables --size $(SIZE) --check

golden: $(STAMP) ## Like tables, then make the new tables the golden ones (results/golden/SIZE/; commit them)
	$(STUDY) prepare --size $(SIZE)
	@$(MAKE) --no-print-directory study-runs SIZE=$(SIZE)
	$(BIN)/pension tables --size $(SIZE) --update-golden

study-runs: $(STUDY_RUNS)

# The study's page (written by `make tables`) rendered in headless Chromium; the browser is
# installed from Debian's packages when missing (as root with apt-get), nothing else needs it.
PAGE_DIR := $(if $(filter full,$(SIZE)),results,results/$(SIZE))
page: ## Screenshot the study's page (results/index.html, from make tables) -> results/index.png
	@test -f $(PAGE_DIR)/index.html || { echo "no $(PAGE_DIR)/index.html: run 'make tables SIZE=$(SIZE)' first" >&2; exit 1; }
	@find_browser() { command -v chromium-headless-shell || command -v chromium || command -v chromium-browser || true; }; \
	browser=$$(find_browser); \
	if [ -z "$$browser" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell; \
	    browser=$$(find_browser); \
	  fi; \
	fi; \
	if [ -z "$$browser" ]; then echo "no headless Chromium, and it cannot be installed here (needs apt-get as root)" >&2; exit 1; fi; \
	"$$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1366,3000 \
	  --screenshot="$(abspath $(PAGE_DIR))/index.png" "file://$(abspath $(PAGE_DIR))/index.html" 2>/dev/null; \
	echo "$(PAGE_DIR)/index.png: the first 1366 x 3000 pixels of $(PAGE_DIR)/index.html"

validate: $(STAMP) ## Validate the calibration files and every experiment
	$(BIN)/pension validate calibration/china
	@for f in experiments/*.toml experiments/options/*.toml; do $(BIN)/pension validate $$f; done

calibrate: $(STAMP) ## Re-derive calibration/china/derived/*.csv from the raw data (PENSION_DATA_DIR)
	$(BIN)/pension calibrate --data-dir $(PENSION_DATA_DIR) --calibration calibration/china

# An MPI runtime for mpi-sppy: Debian's OpenMPI when apt-get is there and we are root,
# otherwise MPICH from PyPI into .venv (its mpiexec lands in .venv/bin); then the `mpi` extra.
$(MPI_STAMP): pyproject.toml | $(STAMP)
	@if command -v mpiexec >/dev/null 2>&1; then \
	  echo "MPI present: $$(mpiexec --version 2>&1 | head -n 1)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev; \
	else \
	  $(BIN)/python -m pip install --quiet mpich; \
	fi
	$(BIN)/python -m pip install --quiet -e '.[test,mpi]'
	touch $@

setup-mpi: $(MPI_STAMP) ## Install an MPI (apt OpenMPI as root, else pip mpich) and mpi4py + mpi-sppy

distributed: $(MPI_STAMP) ## Solve an experiment's stochastic program over MPI ranks: make distributed EXP=name NP=4 [METHOD=ph]
	@if [ -x $(BIN)/mpiexec ]; then launcher=$(BIN)/mpiexec; else launcher=$$(command -v mpiexec); fi; \
	flags=""; \
	if $$launcher --version 2>&1 | grep -qiE 'open ?mpi|openrte'; then \
	  flags="--oversubscribe"; \
	  if [ "$$(id -u)" = 0 ]; then flags="$$flags --allow-run-as-root"; fi; \
	fi; \
	echo "$$launcher $$flags -n $(NP) python -m models.optimize.mpisppy_adapter experiments/$(EXP).toml --method $(METHOD) $(DIST_ARGS)"; \
	OMP_NUM_THREADS=1 $$launcher $$flags -n $(NP) $(BIN)/python -m models.optimize.mpisppy_adapter \
	  experiments/$(EXP).toml --results-dir results --method $(METHOD) $(DIST_ARGS)

test: $(STAMP) ## Run the test suite
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## Run every benchmark and the scaling table into results/bench.json (about 30 min)
	BENCH_BUDGET_S=$(BENCH_BUDGET_S) $(BIN)/python benchmarks/run_all.py results/bench.json

# Mutation testing (issue 17): one module at a time, only the tests listed for it in
# benchmarks/mutants.py; the tool goes into .venv here, not in `make setup`.
MODULE ?=
# more options of benchmarks/mutants.py, e.g. MUTANTS_ARGS="--only 'models.config.xǁ*'"
MUTANTS_ARGS ?=
MUTATION_STAMP := $(VENV)/.mutation-stamp
.PHONY: mutants

$(MUTATION_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	touch $@

mutants: $(MUTATION_STAMP) ## Mutation score of one module into results/mutants/: make mutants MODULE=models/config.py
	@if [ -z "$(MODULE)" ]; then echo "make mutants needs MODULE=models/<file>.py"; exit 2; fi
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/mutants.py $(MODULE) $(MUTANTS_ARGS)

clean: ## Remove results and caches (keeps .venv and the golden tables)
	find results -mindepth 1 -maxdepth 1 -type d ! -name golden -exec rm -rf {} +
	rm -rf .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
