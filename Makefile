# Quick start: `make study` runs the main job (the --standard study), `make test` runs the tests.
# `make smoke` runs the --quick smoke study (minutes; too small for its verdicts to be trusted).
# Each target sets up its own virtual environment (.venv) on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SALSCOPE_DATA ?= $(abspath ../shared/data)
export SALSCOPE_DATA

.PHONY: venv browser test study smoke bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

# The report's browser test needs Chromium (Debian's package); install it when missing and we may.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: the browser test will skip"

test: venv browser
	SALSCOPE_PROGRESS=0 $(BIN)/python -m pytest -q

study: venv
	$(BIN)/salscope study --standard --out runs/study

smoke: venv
	$(BIN)/salscope study --quick --out runs/smoke

clean:
	rm -rf runs .pytest_cache
