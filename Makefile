# gleanset: `make demo` runs the pipeline on generated offline data; `make test` runs the suite.
# Both set everything up on a fresh machine: .venv, the project with its dev extra, and ffmpeg.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO   := demo

.PHONY: test soak demo venv ffmpeg chromium lint bench clean

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
	GLEANSET_REQUIRE_CHROMIUM=1 $(BIN)/pytest -q

# kill -9 each long command at random points SOAK_N times (default 5); figures in docs/reliability.md
soak: venv ffmpeg
	SOAK_REPORT=$${SOAK_REPORT:-soak-report.json} $(BIN)/pytest -q -m soak tests/soak

lint: venv
	$(BIN)/ruff check .

demo: venv ffmpeg chromium
	rm -rf $(DEMO)
	$(PY) -m tests.fixtures.demo $(DEMO)
	@echo "== screenshots from six streets: labels from the file names, street as a column"
	$(BIN)/harvest folder $(DEMO)/screenshots -m $(DEMO)/streets/manifest.csv \
	  --pattern '{street}/cog_{suit}_{entity}_{n:\d+}.png' --label-field suit
	@echo "== movie frames: every 6th frame, letterbox bars and thin edge lines cropped, a scene id per shot"
	$(BIN)/harvest frames $(DEMO)/movies_src/castle.mp4 $(DEMO)/movies_src/meadow.mp4 \
	  $(DEMO)/movies_src/dusk.mp4 -m $(DEMO)/movies/manifest.csv --every 6 --workers 2
	@echo "== image search: two queries to a local fake engine (Openverse's API shape) the demo starts;"
	@echo "   rows carry creator and licence; a 404, an HTML page and a noai-tagged image are rows saying why"
	@$(PY) -m tests.fixtures.search $(DEMO)/search-engine.url & echo $$! > $(DEMO)/search-engine.pid; \
	  for i in $$(seq 100); do [ -s $(DEMO)/search-engine.url ] && break; sleep 0.1; done; \
	  $(BIN)/harvest search "castle fanart" "castle sketch" --label castle -m $(DEMO)/search/manifest.csv \
	    --engine-url "$$(cat $(DEMO)/search-engine.url)" --api-interval 0 --allow-private; \
	  status=$$?; kill $$(cat $(DEMO)/search-engine.pid); rm -f $(DEMO)/search-engine.pid; exit $$status
	$(BIN)/curate stats $(DEMO)/search/manifest.csv --by creator,license
	@echo "== near-duplicates: six screenshots were re-posted downscaled (drawn scenes are simpler than"
	@echo "   photos, so a tighter threshold than the default 10 keeps different screenshots apart)"
	$(BIN)/curate dedupe $(DEMO)/streets/manifest.csv --threshold 4
	@echo "== near-duplicate movie frames (mirrored copies too)"
	$(BIN)/curate dedupe $(DEMO)/movies/manifest.csv --flip-invariant
	@echo "== balance: suits per street (dg holds most Bossbots); weights for a balanced sampler"
	$(BIN)/curate balance $(DEMO)/streets/manifest.csv --by label,street --plot $(DEMO)/streets/balance.png
	@echo "== split by street: no street in two splits, each suit as close to 70/15/15 as streets allow"
	$(BIN)/curate split $(DEMO)/streets/manifest.csv --group-by street
	@echo "== report: one HTML page to look at (counts, label x street, samples, duplicates, leaks)"
	$(BIN)/curate report $(DEMO)/streets/manifest.csv -o $(DEMO)/streets/report.html
	@echo "== export for torchvision/Keras (hard links) and for Hugging Face datasets"
	$(BIN)/curate export $(DEMO)/streets/manifest.csv $(DEMO)/export/imagefolder --format imagefolder
	$(BIN)/curate export $(DEMO)/streets/manifest.csv $(DEMO)/export/hf --format hf
	@echo "== movie frames: label x scene counts, then a split by scene (no scene on both sides)"
	$(BIN)/curate balance $(DEMO)/movies/manifest.csv --by label,scene --plot $(DEMO)/movies/balance.png
	$(BIN)/curate split $(DEMO)/movies/manifest.csv --group-by scene
	@echo "== train: resnet18 from scratch on the screenshots (CPU, 4 epochs, 48 px); accuracy per street exposes leaks"
	$(BIN)/train $(DEMO)/streets/manifest.csv --arch resnet18 --weights none --freeze-epochs 0 --epochs 4 \
	  --img-size 48 --batch-size 16 --lr 5e-3 --workers 0 --device cpu --out $(DEMO)/runs/streets
	@echo "run folder: $(DEMO)/runs/streets/ (model.pt, metrics.json, confusion.png, predictions.csv)"
	@echo "review page: $(DEMO)/runs/streets/review.html"
	@echo "dataset report: $(DEMO)/streets/report.html; exports: $(DEMO)/export/"
	@echo "demo manifests: $(DEMO)/*/manifest.csv (lineage: manifest.csv.log.jsonl beside each)"

bench: venv ffmpeg
	$(PY) bench/folder_import.py
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) bench/frames.py
	$(PY) bench/dedupe.py
	$(PY) bench/download.py
	$(PY) bench/search.py
	$(PY) bench/split.py
	$(PY) bench/report.py
	$(PY) bench/trainer.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache .hypothesis
