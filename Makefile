# Two commands a user needs: `make repro` and `make test` (`make test-fast` while
# editing). Both set up the environment first (a virtualenv in .venv, pinned by
# constraints.txt); when it exists and is current this takes no time.
SHELL := /bin/bash
PYTHON ?= python3
# VENV=/path/to/env uses an environment you manage as it is (nothing installed),
# e.g. the tests' own when they run these targets in a copy of the project.
VENV ?= .venv
export DVC_NO_ANALYTICS := 1
# DVC's site cache (file-hash state, indexes) in the project, not /var/tmp/dvc: a
# relative core.site_cache_dir in .dvc/config would follow the folder dvc runs in
export DVC_SITE_CACHE_DIR ?= $(CURDIR)/.dvc/tmp/site
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: venv repro test test-e2e test-fast lint format bench homework report diff exps rehearse plots clean-venv

ifeq ($(VENV),.venv)
STAMP := $(VENV)/.installed
venv: $(STAMP)

# torch 2.14.1 / torchvision 0.29.1 / torchaudio 2.11.0 are pinned in constraints.txt;
# pip (not uv or poetry) so that locally provided wheels are used where present.
$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)
else
venv:
	@test -x $(VENV)/bin/python || { echo "VENV=$(VENV) has no bin/python" >&2; exit 2; }
endif

# dvc repro runs the preflight stage first; the guards around it refuse a params.yaml
# DVC itself would choke on, fail when an output dvc.lock names is not in DVC's
# cache (a full cache disk makes DVC print errors yet exit 0) and remove what killed
# runs left behind (docs/reliability.md).
repro: venv
	python scripts/repro_guard.py before
	dvc repro
	python scripts/repro_guard.py after

# Two tiers (pyproject's markers): `make test` is every test not marked e2e, the
# unit tests and cheap integration ones (a few minutes on two cores);
# `make test-e2e` the end-to-end ones: the README walkthrough, the experiment
# tables, the S3 remote, DDP, fault injection, real dvc probes.
# CI (.ci/run) runs both. Each lists its ten slowest tests at the end, so a slow
# one shows in CI's log; PYTEST_ARGS adds options (e.g. -n 2, --cov).
PYTEST_ARGS ?=
test: venv
	python -m pytest -m "not e2e" --durations=10 $(PYTEST_ARGS)

test-e2e: venv
	python -m pytest -m e2e --durations=10 $(PYTEST_ARGS)

# The edit-test loop (about a minute on two cores): `make test` without the
# tests that run stages in fresh interpreters or signal them (slow, faults).
test-fast: venv
	python -m pytest -m "not e2e and not faults and not slow" $(PYTEST_ARGS)

# The homework's grid through DVC's experiment queue: make homework JOBS=2 SOURCE=full
# SEEDS=3 (ASR seeds per configuration, at least 1); MCLAURIN=0 leaves out the
# McLaurin ASR runs. Also writes metrics/asr_seeds.json and reports/experiments.md.
# Ctrl-C stops the queue's worker; `make homework` again keeps the finished runs.
JOBS ?= 2
SOURCE ?= sample
MCLAURIN ?= 1
SEEDS ?= 3
homework: venv
	python scripts/homework.py --jobs $(JOBS) --source $(SOURCE) --seeds $(SEEDS) \
		$(if $(filter 0,$(MCLAURIN)),--no-mclaurin)

# reports/results.md (a DVC stage: the workspace) and reports/experiments.md
# (HEAD's experiments, or those of REV=<commit>)
report: venv
	dvc repro report
	python scripts/experiments.py $(if $(REV),--rev $(REV))

# HEAD's experiments as one table that fits the terminal: run names and state, test
# accuracy, CER, WER, lr, decoder, and the other params where runs differ (plain
# `dvc exp show` lists every param, metric and file and squeezes them into `…` at
# 120 columns). EXPS_ARGS="--rev main" lists another commit's.
exps: venv
	python scripts/exps.py $(EXPS_ARGS)

# The whole job on stand-ins at the real sizes, timed per stage (docs/rehearsal.md);
# REHEARSE_ARGS="--clip-fraction 0.02 --cnn-steps 1000 --asr-steps 4" measures parts
# and projects the rest.
rehearse: venv
	python benchmarks/rehearse.py --scale full $(REHEARSE_ARGS)

# The pull-request comment, printed: the workspace against BASE (make diff BASE=main),
# headline metrics first with their direction and noise; rendered by rich on a terminal.
BASE ?= main
diff: venv
	python scripts/pr_comment.py --base $(BASE)

lint: venv
	ruff check src stages tests benchmarks scripts
	ruff format --check src stages tests benchmarks scripts

format: venv
	ruff format src stages tests benchmarks scripts
	ruff check --fix src stages tests benchmarks scripts

# DVC's plots page (dvc_plots/index.html) of the workspace against BASE, made safe
# for any branch name (dvc-render leaves `</script>` in a spec raw).
plots: venv
	python scripts/plots.py $(BASE)

bench: venv
	python benchmarks/bench_cnn_throughput.py

clean-venv:
	rm -rf $(VENV)
