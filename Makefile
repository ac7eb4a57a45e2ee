# Every target does its own set-up: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bytecode native bench bench-api bench-cds bench-fhir bench-screen \
	bench-worklist soak screenshots clean chromium java pango schemas messages

$(STAMP): pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/spinecare serve --demo

# ruff, then the layers and the absence of import cycles (import-linter, contracts in
# pyproject.toml; docs/ARCHITECTURE.md explains them).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# The browser tests drive Debian's chromium (Playwright for Python pointed at it, never a
# downloaded browser) and check each page with axe-core from the npm registry.
AXE := .cache/npm/node_modules/axe-core/axe.min.js

chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != "0" ]; then \
	    echo "chromium is missing: install Debian's package as root (apt-get install -y chromium)" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update && apt-get install -y chromium; \
	fi

# The Spark tests (spinecare screen --engine spark, on local[2]) need a Java 17 runtime: Debian's
# openjdk-17-jre-headless, installed like chromium when missing; pyspark itself is pinned in
# requirements-dev.txt.
java:
	@if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != "0" ]; then \
	    echo "java is missing: install Debian's package as root (apt-get install -y openjdk-17-jre-headless)" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update && apt-get install -y openjdk-17-jre-headless; \
	fi

# The report and plan PDFs (WeasyPrint) lay text out with Debian's pango, installed like chromium
# when missing; the tests read the PDFs back with pypdfium2 (PyPI, self-contained).
pango:
	@if ! ldconfig -p | grep -q 'libpango-1.0.so.0' || ! ldconfig -p | grep -q 'libpangoft2-1.0.so.0'; then \
	  if [ "$$(id -u)" != "0" ]; then \
	    echo "pango is missing: install Debian's packages as root (apt-get install -y libpango-1.0-0 libpangoft2-1.0-0)" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update && apt-get install -y libpango-1.0-0 libpangoft2-1.0-0; \
	fi

$(AXE):
	npm install --no-audit --no-fund --prefix .cache/npm axe-core@4.14.1

# Bytecode of the package's own modules, as an installed package has it (pip writes it; this
# editable install gets it only when Python may write it, which PYTHONDONTWRITEBYTECODE
# forbids): without it every `spinecare` process compiles its modules from source at start.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q src >/dev/null

# The assessment's generated function for the packaged knowledge, built natively (Cython, then
# the C compiler: about a minute, once per knowledge version) into the project's .cache, which
# the tests and the benchmark use; the engine runs the Python function wherever it is not built.
native: $(STAMP)
	SPINECARE_CACHE_DIR=$(CURDIR)/.cache/code $(BIN)/spinecare knowledge native

unit: $(STAMP) bytecode native chromium java pango $(AXE)
	SPINECARE_EXPECT_NATIVE=1 $(BIN)/python -m pytest -n 2 -p no:cacheprovider --durations=25

test: lint typecheck unit

# The vocabulary's code lists written into the JSON Schemas' enums (after adding a code).
schemas: $(STAMP)
	$(BIN)/python scripts/schema_enums.py

bench: $(STAMP) bytecode native
	SPINECARE_CACHE_DIR=$(CURDIR)/.cache/code $(BIN)/python bench/bench_assess.py

# SQLite with one worker, then PostgreSQL with 1 and 4 workers and the ratio (PostgreSQL from
# SPINECARE_TEST_POSTGRES_URL, else a throwaway server from scripts/pg-test-server).
bench-api: $(STAMP)
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_login.py

# Not part of `make test`: SOAK_SECONDS (600) of mixed reads and writes on PostgreSQL with
# SOAK_WORKERS (2) workers, one killed midway, then every acknowledged write read back.
soak: $(STAMP)
	$(BIN)/python bench/soak.py

# FHIR in (a Bundle of 50 Observations) and FHIR out: p50/p99 CPU time per call.
bench-fhir: $(STAMP)
	$(BIN)/python bench/bench_fhir.py
# CDS Hooks patient-view with a prefetch of 50 Observations, one worker: p50/p99.
bench-cds: $(STAMP)
	$(BIN)/python bench/bench_cds.py

# The clinician's worklist with 10,000 patients: p50/p95 of the page and of its query.
bench-worklist: $(STAMP)
	$(BIN)/python bench/bench_worklist.py

# The README's pictures of the worklist with an alert, the alert, and the patient's home after
# an emergency, from the browser test that walks that path (tests never write to docs/ alone);
# an education article on a phone, in English and in Spanish, from the education browser
# tests; and the first page of a visit report's PDF, drawn to PNG by pypdfium2.
screenshots: $(STAMP) chromium pango $(AXE)
	SPINECARE_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -p no:cacheprovider -q \
	  tests/web/test_alerts_browser.py tests/web/test_education_browser.py \
	  tests/web/test_education_es_browser.py \
	  "tests/web/test_axe_every_page.py::test_the_report_pdf_first_page_is_drawn"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build src/*.egg-info

# spinecare screen over 10 million generated rows of Parquet (made once, cached in .cache/bench):
# its time and peak memory beside the floor (DuckDB copying the same Parquet, no logic) and
# beside spinecare assess on a sample. BENCH_SCREEN_ROWS changes the size.
bench-screen: $(STAMP)
	$(BIN)/python bench/bench_screen.py

# The engine on the independent clinical vignettes (tests/data/vignettes): writes docs/validation.md;
# on the held-out ones (tests/data/vignettes-heldout): docs/validation-heldout.md; and on the
# second held-out set (tests/data/vignettes-heldout-2): docs/validation-heldout-2.md.
.PHONY: validate
validate: $(STAMP)
	$(BIN)/python scripts/validate.py
	$(BIN)/python scripts/validate.py --vignettes tests/data/vignettes-heldout \
		--output docs/validation-heldout.md
	$(BIN)/python scripts/validate.py --vignettes tests/data/vignettes-heldout-2 \
		--output docs/validation-heldout-2.md

# The pages' message catalogues: extract every msgid from the web's templates and Python into
# messages.pot, then merge it into each language's messages.po (new msgids arrive untranslated,
# and tests/web/test_i18n.py fails until they are translated). The .po files ship in the package
# and are read at start-up: nothing is compiled.
LOCALES := src/spinecare/web/locales
messages: $(STAMP)
	$(BIN)/pybabel extract --mapping-file $(LOCALES)/babel.cfg --keywords N_ \
	  --no-location --sort-output --omit-header --width 100 --output-file $(LOCALES)/messages.pot src/spinecare/web
	$(BIN)/pybabel update --input-file $(LOCALES)/messages.pot --output-dir $(LOCALES) \
	  --domain messages --no-fuzzy-matching --ignore-obsolete --width 100
