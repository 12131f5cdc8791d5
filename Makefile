# gleanset: `make demo` runs the pipeline on generated offline data; `make test` runs the suite.
# Both set everything up on a fresh machine: .venv, the project with its dev extra, and ffmpeg.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO   := demo
# Processes the suite runs in (pytest-xdist, whole files to each, so module fixtures are built once);
# TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
# The suite runs in a random order (pytest-randomly); `make test SEED=N` replays the order of a run.
ifeq ($(origin SEED), undefined)
SEED := $(shell od -An -N2 -tu2 /dev/urandom | tr -d ' ')
endif

.PHONY: test soak mutate demo venv ffmpeg chromium lint bench clean

venv: $(VENV)/.installed

# Says what it installs first: the first time it downloads PyTorch and the rest (minutes, a few GB);
# pip's own progress bars show while it does.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing gleanset with its dev extra into $(VENV) (PyTorch, torchvision, pandas, datasets,"
	@echo "pytest...): several minutes and a few GB the first time, seconds after that"
	$(PY) -m pip install --disable-pip-version-check -e '.[dev]'
	@touch $@

ffmpeg:
	@if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing ffmpeg with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	else \
	  echo "ffmpeg is missing: install it with 'sudo apt-get install ffmpeg' (or 'brew install ffmpeg')"; \
	  exit 1; \
	fi

# Headless Chromium renders curate report in the tests (Debian's package is `chromium`).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "chromium is missing: install it with 'sudo apt-get install chromium' (or 'brew install --cask chromium')"; \
	  exit 1; \
	fi

test: venv ffmpeg chromium
	@echo "test order: make test SEED=$(SEED) replays it"
	@# PYTHONDONTWRITEBYTECODE= : keep the bytecode (and pytest's rewritten test modules) a session set not
	@# to write, or every worker and every command the tests start compiles the sources again
	PYTHONDONTWRITEBYTECODE= GLEANSET_REQUIRE_CHROMIUM=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 \
	  --randomly-seed=$(SEED)

# kill -9 each long command at random points SOAK_N times (default 5); figures in docs/reliability.md
soak: venv ffmpeg
	SOAK_REPORT=$${SOAK_REPORT:-soak-report.json} $(BIN)/pytest -q -m soak --timeout 3600 tests/soak

# Mutation testing (docs/testing.md), not part of `make test`: mutmut mutates the modules of
# [tool.mutmut] only_mutate in pyproject.toml and judges each by its tests ([tool.gleanset.mutate.tests]).
# MODULES="manifests/io.py curate/split.py" runs (again) all the mutants of those modules only;
# MUTANTS="manifests.merge.x_row_keys__mutmut_3 'curate.split.*'" reruns those mutants (names or globs);
# MUTATE_JOBS mutants at once (default 1).
# The survivors, with their diffs, go to MUTATE_REPORT; mutants/ keeps the results, so a second run
# only tests the mutants of functions that changed (rm -rf mutants to start over).
MODULES ?=
MUTATE_JOBS ?= 1
MUTATE_REPORT ?= mutants-report.txt
MUTANTS ?=
MUTANT_GLOBS = $(foreach m,$(MODULES),'$(subst /,.,$(m:.py=)).*') $(MUTANTS)

mutate: venv ffmpeg
	@# PYTHONPATH: the python processes the tests start import the mutated code too
	mkdir -p mutants
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$(CURDIR)/mutants \
	  $(BIN)/mutmut run --max-children $(MUTATE_JOBS) $(MUTANT_GLOBS)
	$(PY) -m tests.mutate.report $(MODULES) --out $(MUTATE_REPORT)

# ruff, then the dependency rules of pyproject.toml's [tool.importlinter] (stages import only manifests,
# no import cycles)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

demo: venv ffmpeg chromium
	rm -rf $(DEMO)
	@# generates the sources, serves a fake Reddit, Arctic Shift and Openverse on 127.0.0.1, runs and prints each command
	$(PY) -m tests.fixtures.demo_run $(DEMO)

bench: venv ffmpeg
	$(PY) bench/folder_import.py
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) bench/frames.py
	$(PY) bench/dedupe.py
	$(PY) bench/download.py
	$(PY) bench/search.py
	$(PY) bench/split.py
	$(PY) bench/report.py
	$(PY) bench/scaleout.py
	$(PY) bench/trainer.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache .hypothesis .import_linter_cache mutants
