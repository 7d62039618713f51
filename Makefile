# visitonce: two commands on a fresh machine.
#   make demo   set up, generate a synthetic city, run the whole pipeline, print where outputs are
#   make test   set up, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup java chromium demo test lint bench clean messages

setup: java chromium $(STAMP)

# pyspark and pyspark-client are pinned to the same release in pyproject.toml, and every other
# package to the versions in constraints.txt, so a fresh setup reproduces the tested stack.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	@$(BIN)/python -c 'from visitonce.spark import local_fs_jar; local_fs_jar()'
	@touch $(STAMP)

# Spark 4 needs Java 17 or newer; a JDK's javac also builds the local file system class
# (visitonce/java/), which spares local writes a chmod process per file.
java:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1); \
	if [ -n "$$v" ] && [ "$$v" -ge 17 ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Java 17+ not found: installing Debian's openjdk-17-jdk-headless"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless; \
	else \
	  echo "Java 17 or newer is required (found: $${v:-none}). Install it, e.g. 'sudo apt-get install openjdk-17-jdk-headless' (Debian/Ubuntu) or 'brew install openjdk@17' (macOS), then rerun make."; \
	  exit 1; \
	fi

# The report test loads every page in headless Chromium (Debian's package), and draws the
# Chinese pages with a CJK font (Debian's fonts-noto-cjk); without them those tests are skipped
# with their reason.
chromium:
	@need=""; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need="chromium"; \
	if command -v fc-list >/dev/null && [ -n "$$(fc-list :lang=zh-cn family)" ]; then :; \
	else need="$$need fonts-noto-cjk"; fi; \
	if [ -z "$$need" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's$$need for the browser tests of the reports"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	else \
	  echo "note: missing$$need; the browser tests of the reports will be skipped (sudo apt-get install$$need)"; \
	fi

demo: setup
	$(BIN)/visitonce demo --out demo-out

test: setup
	$(BIN)/python -m pytest -q -n 2 --durations=25

lint: setup
	$(BIN)/ruff check visitonce jobs tests
	$(BIN)/ruff format --check visitonce jobs tests

# Benchmarks print their figures; docs/benchmarks.md records the latest (machine, date, command).
# BENCH_EVENTS="100000 1000000 10000000" for the full scaling run.
BENCH_EVENTS ?= 100000 1000000
bench: setup
	$(BIN)/python bench/pipeline.py --events $(BENCH_EVENTS)
	$(BIN)/python bench/bundles.py
	$(BIN)/python bench/lagging.py --events 1000000
	$(BIN)/python bench/xes.py
	$(BIN)/python bench/steps.py
	$(BIN)/python bench/file_sizes.py
	$(BIN)/python bench/daily_increment.py

clean:
	rm -rf demo-out .pytest_cache

# Report languages (visitonce/report/locale): after changing a string on the pages, extract
# the strings, merge them into every catalogue (new ones untranslated, changed ones fuzzy),
# translate those in the .po, then compile the .mo that the pages load (`make messages` again).
# tests/report/test_i18n.py fails while a .mo differs from its .po or a string is untranslated.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ --no-location --sort-output --project visitonce -o $(VENV)/messages.pot .
	$(BIN)/pybabel -q update -i $(VENV)/messages.pot -d visitonce/report/locale --width 100 --ignore-obsolete --ignore-pot-creation-date
	$(BIN)/pybabel -q compile -d visitonce/report/locale --statistics
