# consensus_lab: two commands on a fresh machine.
#   make lab    create .venv (package + JupyterLab + ipywidgets) and open the course at START.ipynb
#   make test   create/update .venv with the dev extra and run every test
# Also: make stress (big seeded batteries on all cores), make bench, make lint, make release.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PORT   ?= 8888
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)
TEST_PATHS = $(wildcard tests notebooks solutions exercises)
NBVAL  = --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: lab test test-fast stress bench lint release clean env-lab env-dev

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "consensus_lab needs Python 3.11 or newer (found %s)" % sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.lab: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[lab]'
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.lab

env-lab: $(VENV)/.lab
env-dev: $(VENV)/.dev

lab: env-lab
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir=. \
	    --LabApp.default_url=/lab/tree/START.ipynb $(ROOT_FLAG)

test: env-dev
	$(PY) -m pytest -n $(JOBS) --dist loadfile $(TEST_PATHS) $(NBVAL) -q

test-fast: env-dev
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests -m "not browser" -q

stress: env-dev
	CONSENSUS_LAB_STRESS=1 $(PY) -m pytest -n $(JOBS) tests -m "not browser" -q -k "battery or stress"

bench: env-dev
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: env-dev
	$(VENV)/bin/ruff check consensus_lab tests benchmarks

release: env-dev
	$(VENV)/bin/consensus-lab release solutions exercises

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
