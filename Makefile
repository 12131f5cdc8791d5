# gleanset: `make demo` runs the pipeline on generated offline data; `make test` runs the suite.
# Both set everything up on a fresh machine: .venv, the project with its dev extra, and ffmpeg.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO   := demo

.PHONY: test demo venv ffmpeg lint bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
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

test: venv ffmpeg
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .

demo: venv ffmpeg
	rm -rf $(DEMO)
	$(PY) -m harvest.demo $(DEMO)
	@echo "== screenshots from six streets: labels from the file names, street as a column"
	$(BIN)/harvest folder $(DEMO)/screenshots -m $(DEMO)/streets/manifest.csv \
	  --pattern '{street}/cog_{suit}_{entity}_{n:\d+}.png' --label-field suit
	@echo "== movie frames: every 12th frame, letterbox bars and thin edge lines cropped, a scene id per shot"
	$(BIN)/harvest frames $(DEMO)/movies_src/castle.mp4 $(DEMO)/movies_src/meadow.mp4 \
	  $(DEMO)/movies_src/dusk.mp4 -m $(DEMO)/movies/manifest.csv --every 12 --workers 2
	@echo
	@echo "demo manifests: $(DEMO)/streets/manifest.csv, $(DEMO)/movies/manifest.csv" \
	  "(lineage: manifest.csv.log.jsonl beside each)"

bench: venv ffmpeg
	$(PY) bench/folder_import.py
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) bench/frames.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache .hypothesis
