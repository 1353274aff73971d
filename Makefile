# Assignment 5 kit. `make demo` and `make test` are all a newcomer needs; each builds .venv
# from the pinned lock the first time and reuses it afterwards.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Offline machines: a folder holding the registry's files (CI uses ../shared/data).
export A5KIT_DATA_MIRROR ?= $(abspath $(wildcard ../shared/data))
PYTEST_ARGS ?=
# pytest-xdist: one worker per core (at most 4; each grades with its own student user), each test
# file on one worker (tests/conftest.py). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
# release, autograder, bench and rehearse report what they did; VERBOSE=1 adds every step, QUIET=1 keeps warnings and errors.
VERBOSE ?=
QUIET   ?=
SAY := $(if $(VERBOSE),--verbose,) $(if $(QUIET),--quiet,)

.PHONY: help venv demo test lock cache release autograder grade merge-written bench clean rehearse answers doctor

help:
	@echo "make demo    offline demo (tiny models)        make test   the test suite"
	@echo "make cache   record model outputs (TINY=1 offline)   make lock   regenerate pins"
	@echo "make release solutions/ -> assignment5/ and dist/student/ (the public student tree)"
	@echo "make autograder  dist/autograder.zip for Gradescope (CACHE_DIR=data/cache)"
	@echo "make grade SUBMISSIONS=dir [WORKERS=2]  grade a folder of submissions locally (as root; UNSAFE=1 without)"
	@echo "           [BLIND=1] pseudonyms on the written pages; [WRITTEN=grades/written.csv] merge the written points"
	@echo "make merge-written [GRADES=grades] [WRITTEN=file]  written.csv into grades-with-written.csv"
	@echo "make bench   time and memory of grading vs Gradescope's 768 MB container (BENCH_ARGS=--quick)"
	@echo "make rehearse  full-size live run offline (random weights; long)   make answers  grader sheet of CACHE_DIR"
	@echo "make doctor  mode, device, versions, weights, cache, expected times"
	@echo "release, autograder, bench, rehearse: VERBOSE=1 reports every step, QUIET=1 only warnings and errors"

$(STAMP): requirements/dev.lock pyproject.toml
	@$(PYTHON) scripts/platform_check.py
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11, 5) <= sys.version_info[:3] < (3, 14))' || \
		{ echo "make needs Python 3.11.5 to 3.13 (what requirements/dev.lock is checked for); $(PYTHON) is $$($(PYTHON) --version 2>&1). Use PYTHON=python3.12 make ..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m a5kit demo --workdir build/demo

test: $(STAMP)
	$(PY) -m ruff check --quiet src tests autograder scripts
	@$(PY) -m ruff format --check --quiet src tests autograder scripts || \
		{ echo "the files above are not formatted: run $(PY) -m ruff format src tests autograder scripts"; exit 1; }
	$(PY) -m mypy
	$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile --durations=15 $(PYTEST_ARGS)

lock:
	$(PYTHON) scripts/lock.py

CACHE_DIR ?= data/cache
cache: $(STAMP)
	$(PY) -m a5kit cache --out $(CACHE_DIR) $(if $(TINY),--tiny,)

# Both refuse the EXAMPLE student repository of pyproject.toml unless EXAMPLE=1 (demos, the committed assignment5/).
EXAMPLE ?=
release: $(STAMP)
	$(PY) -m a5kit.release $(if $(EXAMPLE),--example,) $(SAY)

autograder: $(STAMP)
	$(PY) -m a5kit.autograder --cache $(CACHE_DIR) $(if $(EXAMPLE),--example,) $(SAY)

# As root each worker grades as its own throw-away user; without root it refuses unless UNSAFE=1.
WORKERS ?= 2
UNSAFE  ?=
BLIND   ?=
WRITTEN ?=
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder of submissions> [WORKERS=2] [UNSAFE=1]"; exit 2; }
	$(PY) -m a5kit.grader.batch "$(SUBMISSIONS)" --workers $(WORKERS) $(if $(UNSAFE),--unsafe-as-me,) \
		$(if $(BLIND),--blind,) $(if $(WRITTEN),--written "$(WRITTEN)",)

# The written questions' points (grades/written.csv, filled in) into grades-with-written.csv and report-with-written.html.
GRADES ?= grades
merge-written: $(STAMP)
	$(PY) -m a5kit.grader.batch merge-written --grades "$(GRADES)" $(if $(WRITTEN),--written "$(WRITTEN)",)

BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) -m a5kit.bench --cache $(CACHE_DIR) $(BENCH_ARGS) $(SAY)

# The live path at full size, offline: random-weight GPT-2 small and Enformer, every solution notebook
# in live mode, a full-size cache, grading within 768 MB. Resumable; progress in build/rehearse/progress.log.
REHEARSE_ARGS ?=
rehearse: $(STAMP)
	$(PY) -m a5kit.rehearse --workdir build/rehearse $(REHEARSE_ARGS) $(SAY)

# Grader sheet of a recorded cache (replay mode): $(CACHE_DIR)/ANSWERS.md
answers: $(STAMP)
	$(PY) -m a5kit.answers --cache $(CACHE_DIR)

doctor: $(STAMP)
	$(PY) -m a5kit doctor

clean:
	rm -rf build dist .pytest_cache
