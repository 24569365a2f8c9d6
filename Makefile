# The few verbs everyone uses. `make demo` and `make test` work on a fresh machine.
# The interpreter the virtual environment is made with: the system's own /usr/bin/python3 when it is 3.11 or later
# and can make one (Debian's is built with PGO and LTO: runs take about half the time they take on a default source
# build such as pyenv's), else the first python3 on PATH. `make PYTHON=...` chooses another.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
            && echo /usr/bin/python3 || echo python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
SUDO := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null && echo sudo)
# Debian packages the tests need: git (repository sources and fixtures), Chromium (the browser checks of the
# HTML reports, driven by Playwright), poppler-utils (pdftoppm/pdfinfo/pdftotext for the PDF checks), and
# Pango, HarfBuzz and a font for WeasyPrint (the pdf extra), strace (the check that no fsync comes between an SMTP
# message and its final dot).
APT_PACKAGES := git chromium poppler-utils fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 strace

.PHONY: demo test test-all lint bench system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[pdf]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

system-deps:
	@missing=""; for pkg in $(APT_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || command -v $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

demo: system-deps $(VENV)/.installed
	$(VENV)/bin/execintel run --dry-run

# Test processes (pytest-xdist); 2 matches CI's two cores. worksteal: an idle worker takes tests queued for the
# other, so the suite does not end with one worker finishing a long tail alone (9 min 11 s against about 10 min).
TEST_WORKERS ?= 2

# The whole suite, long trials (crash loops) at a few iterations each: under 8 minutes on 2 cores.
test: system-deps $(VENV)/.installed-dev
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not long"

# The same with every long trial in full (50 kill -9 trials per delivery case, a 110,000-commit history, ...).
test-all: system-deps $(VENV)/.installed-dev
	EXECINTEL_CRASH_TRIALS=50 EXECINTEL_TEST_TRIALS=10 EXECINTEL_TEST_HISTORY_COMMITS=110000 \
	  $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist worksteal

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) out outbox .pytest_cache .mypy_cache .ruff_cache
