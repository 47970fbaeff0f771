# The two commands of the README:
#   make demo   run the EDC on SQLite with the demo study at http://127.0.0.1:5000
#   make test   run the whole test suite (SQLite; PostgreSQL too when EDC_TEST_DATABASE_URL is set)
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= tianjin-demo-2026
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo test lint bench clean chromium fonts messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed fonts
	$(BIN)/edc init
	$(BIN)/edc demo --password "$(DEMO_PASSWORD)"
	@echo
	@echo "  CAR-T EDC demo: http://$(HOST):$(PORT)/"
	@echo "  users: crc pi cra dm sponsor admin   password: $(DEMO_PASSWORD)"
	@echo
	@echo "  background jobs (casebooks, archives, audit trail PDFs, exports): edc worker, started beside it"
	@echo
	trap 'kill 0' EXIT INT TERM; \
	$(BIN)/edc worker & \
	EDC_COOKIE_SECURE=0 $(BIN)/gunicorn --workers 2 --timeout 180 --bind $(HOST):$(PORT) \
		--access-logfile - wsgi:app

test: $(VENV)/.installed chromium fonts
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Browser tests drive Debian's Chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; fi; }

# PDFs (audit trail, casebook, annotated CRF, printed checklist) carry Chinese labels:
# Debian's Noto CJK, and HarfBuzz's subsetter, which embeds just the glyphs used (without it
# WeasyPrint falls back to a subsetter 40x slower on CJK fonts).
fonts:
	@{ fc-list :lang=zh 2>/dev/null | grep -q . && ldconfig -p | grep -q libharfbuzz-subset; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq fonts-noto-cjk libharfbuzz-subset0; \
	  else echo "PDFs need Debian's fonts-noto-cjk and libharfbuzz-subset0: sudo apt-get install fonts-noto-cjk libharfbuzz-subset0"; fi; }

# The interface's texts (edc/i18n.py): extract them from the code and templates and merge them
# into the Chinese catalog; then translate its new entries (the tests fail on any left out).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -k Message --no-location --sort-output \
		-o edc/translations/messages.pot .
	$(BIN)/pybabel update -i edc/translations/messages.pot -d edc/translations -l zh

bench: $(VENV)/.installed
	@for b in bench/[a-z]*.py; do $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
