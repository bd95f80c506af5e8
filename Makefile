# Two commands on a fresh machine:
#   make run    set everything up, build the index if needed, open the chat page on 127.0.0.1:7860
#   make test   set everything up (incl. Chromium for the browser test) and run the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860

.PHONY: setup system-deps run test lint bench clean-venv

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (an unpinned torch pulls a multi-GB CUDA build)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium and a CJK font for the browser test (needs root; skipped when present).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'noto.*cjk' \
			|| ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing chromium, fonts-noto-cjk and npm (apt-get) for the browser test …"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk npm >/dev/null; \
		else \
			echo "note: not root, so Chromium is not installed; the browser test will be skipped"; \
		fi; \
	fi

run: setup
	$(VENV)/bin/pudong-qa serve --host $(HOST) --port $(PORT)

test: setup system-deps
	@if command -v npm >/dev/null 2>&1; then [ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund --silent; \
		else echo "note: npm not found, so the colour-contrast browser test will be skipped"; fi
	$(VENV)/bin/ruff check src tests app.py
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests app.py

bench: setup
	$(VENV)/bin/pudong-qa bench tests/data/own_questions.jsonl --eval-file tests/data/own_questions.jsonl

clean-venv:
	rm -rf $(VENV)
