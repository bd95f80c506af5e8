# Two commands on a fresh machine:
#   make run    set everything up, build the index if needed, open the chat page on 127.0.0.1:7860
#   make test   set everything up (incl. Chromium for the browser test) and run the whole test suite
#   make test-fast  the quick lane for editing: no real model, no browser
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860
LINTED := src tests benchmarks scripts training app.py

.PHONY: setup system-deps run test test-fast lint bench install-check clean-venv

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (an unpinned torch pulls a multi-GB CUDA build)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium, a CJK font and npm for the browser tests: only what is missing, as root.
# If apt cannot install them (no root, held packages, a Node.js not from Debian), say so and go
# on: the browser tests then skip with the reason.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi 'noto.*cjk' || missing="$$missing fonts-noto-cjk"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "note: not root, so$$missing not installed; the browser tests will be skipped"; exit 0; fi; \
	echo "Installing$$missing (apt-get) for the browser tests …"; \
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }; then \
		echo "note: apt-get could not install$$missing; going on, the browser tests will be skipped"; fi

run: setup
	$(VENV)/bin/pudong-qa serve --host $(HOST) --port $(PORT)

test: setup system-deps
	@if command -v npm >/dev/null 2>&1; then [ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund --silent; \
		else echo "note: npm not found, so the colour-contrast browser test will be skipped"; fi
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/python -m pytest -q

# The edit-run loop: everything that needs neither the real model nor a browser (about two minutes).
test-fast: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/python -m pytest -q -m "not slow and not browser and not load"

lint: setup
	$(VENV)/bin/ruff check $(LINTED)

bench: setup
	$(PY) -m benchmarks.bench tests/data/own_questions.jsonl --eval-file tests/data/own_questions.jsonl

# What the Dockerfile does, without a container engine: the wheel in a clean virtualenv, serve and answer (CI runs it).
install-check:
	bash scripts/check_install.sh

clean-venv:
	rm -rf $(VENV)
