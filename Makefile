# layerlab: `make lab` to open the kit, `make test` to check it. Both set themselves up.
# Needs only python3 (>= 3.10) and make; everything else goes into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp

LAB_IP ?= 127.0.0.1
# Jupyter refuses to start as root without --allow-root (common in containers and CI).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST_ARGS ?=

# Only the paths that exist yet, so ruff does not fail on a missing folder.
LINT_PATHS := $(wildcard layerlab tests benchmarks)

# Notebook outputs must not depend on the user's IPython profile, matplotlibrc or timezone.
NB_ENV := IPYTHONDIR=$(CURDIR)/$(VENV)/ipython MPLCONFIGDIR=$(CURDIR)/$(VENV)/matplotlib TZ=UTC

.PHONY: venv lab test lint clean nbval-off nbval-modes

venv: $(STAMP)

# Re-run pip only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml layerlab/_ctar.c
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	    { echo "layerlab needs Python >= 3.10; set PYTHON=python3.x" >&2; exit 1; }
	@if [ ! -x $(BIN)/python ]; then \
	    $(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }; \
	    $(BIN)/python -m pip install --quiet --upgrade pip; \
	fi
	$(BIN)/python -m pip install -e '.[test]'
	@touch $(STAMP)

lab: venv
	$(BIN)/jupyter lab --ip=$(LAB_IP) $(LAB_ARGS) notebooks/00-start-here.ipynb

# The whole suite: ruff; one pytest run (tests/ collected normally, notebooks/*.ipynb by nbval,
# strict: outputs compared); then the notebooks once more with real mode forced off.
test: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(NB_ENV) $(BIN)/pytest tests notebooks --nbval --nbval-current-env \
	    --nbval-sanitize-with tests/nbval-sanitize.cfg -p no:cacheprovider $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory nbval-off
	@$(MAKE) --no-print-directory nbval-modes

# The notebooks a second time with real mode forced off (what Binder and macOS get): the same
# stored outputs must hold, so every mode-dependent cell says which mode ran and is not compared.
nbval-off: venv
	LAYERLAB_REAL_MODE=off $(NB_ENV) $(BIN)/pytest notebooks --nbval --nbval-current-env \
	    --nbval-sanitize-with tests/nbval-sanitize.cfg -p no:cacheprovider

# The notebook that runs real programs with each real mode forced (namespaces, then ptrace):
# the compared outputs are the same whichever modes this machine allows.
nbval-modes: venv
	for mode in namespaces ptrace; do \
	    LAYERLAB_REAL_MODE=$$mode $(NB_ENV) $(BIN)/pytest notebooks/04-running-containers.ipynb \
	        --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg \
	        -p no:cacheprovider || exit 1; \
	done

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy

# Keeps .venv; `rm -rf .venv` to start over.
clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d \
	    -exec rm -rf {} +
