# consensus_lab: two commands on a fresh machine.
#   make lab    create .venv (package + JupyterLab + ipywidgets) and open the course at START.ipynb
#   make test   create/update .venv with the dev extra and run every test
# Also: make stress (big seeded batteries on all cores), make bench, make lint, make release,
#   make mutate (mutation score of the library's rules; slow; docs/mutation.md).

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PORT   ?= 8888
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)
TEST_PATHS = $(wildcard tests notebooks solutions exercises)
NBVAL  = --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: lab test test-fast stress bench lint release clean env-lab env-dev mutate mutate-report

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

$(VENV)/.mutate: pyproject.toml $(VENV)/.dev
	$(PY) -m pip install --quiet -e '.[dev,mutate]'
	@touch $@

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

# make mutate [MUTANTS='consensus_lab.protocols.raft.*'] [MUTATE_JOBS=2]: mutmut over the modules
# and tests listed in pyproject's [tool.mutmut]; results persist in mutants/ (a rerun skips
# mutants already judged; `rm -rf mutants` to start over). Ends with the kill rate per module.
MUTANTS     ?=
MUTATE_JOBS ?= 2
mutate: $(VENV)/.mutate
	set -f; nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS) $(MUTANTS); \
	status=$$?; $(PY) benchmarks/mutation_report.py mutants; exit $$status

mutate-report:
	@$(PY) benchmarks/mutation_report.py mutants --survivors

lint: env-dev
	$(VENV)/bin/ruff check consensus_lab tests benchmarks

release: env-dev
	$(VENV)/bin/consensus-lab release solutions exercises

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info mutants
