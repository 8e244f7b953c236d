# Two entry points for a fresh clone: `make app` and `make test`.
# Both create .venv with Python 3.11 and install requirements.txt when it changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: app test

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

app: $(STAMP)
	$(PY) -m streamlit run app.py --server.fileWatcherType none

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)
