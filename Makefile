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
	@echo
	@echo "demo manifests: $(DEMO)/streets/manifest.csv (lineage: manifest.csv.log.jsonl beside it)"
	@echo
	@echo "== train: resnet18 from scratch on the screenshots (CPU, 4 epochs, 48 px); accuracy per street exposes leaks"
	$(BIN)/train $(DEMO)/streets/manifest.csv --arch resnet18 --weights none --freeze-epochs 0 --epochs 4 \
	  --img-size 48 --batch-size 16 --lr 5e-3 --workers 0 --device cpu --out $(DEMO)/runs/streets
	@echo "run folder: $(DEMO)/runs/streets/ (model.pt, metrics.json, confusion.png, predictions.csv)"
	@echo "review page: $(DEMO)/runs/streets/review.html"

bench: venv ffmpeg
	$(PY) bench/folder_import.py
	$(PY) bench/trainer.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache .hypothesis
