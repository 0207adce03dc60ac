# Minsheng: `make run` installs, initialises and serves; `make test` installs and runs every test.
# Both are idempotent: a second run reuses the virtual environment and the home folder.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0

.PHONY: run test install assets browser audit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==$(TORCH_VERSION)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) assets

# Front-end assets come from the npm registry (never a CDN) and are served by the application itself.
assets:
	@if [ -f search/trends/static-src/package.json ]; then $(MAKE) -s -C search/trends/static-src install; fi

# Browser tests need Chromium and a CJK font (screenshots of Chinese pages); Debian packages.
BROWSER_PKGS := chromium fonts-wqy-microhei
browser:
	@if ! test -x /usr/bin/chromium || ! test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; then \
	  echo "installing $(BROWSER_PKGS) for the browser tests"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(BROWSER_PKGS); fi

run: install
	$(BIN)/minsheng init
	$(BIN)/minsheng serve

# Known vulnerabilities in the installed dependencies (not the editable project itself). Findings fail the
# build unless fixed (raise the minimum in pyproject.toml) or listed with a reason in .pip-audit-ignore;
# an unreachable vulnerability service prints a warning and does not fail it. See docs/hardening.md.
audit: install
	$(BIN)/python tools/pip_audit.py

test: install browser audit
	$(BIN)/python -m pytest -q

bench: install
	@echo "see bench/*.py: each prints its figures"

clean:
	rm -rf $(VENV) var .pytest_cache
