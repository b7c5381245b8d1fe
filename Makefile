# SGD Dynamics — a reproducible companion.
#   make book   build the whole book, every notebook executed (HTML in _build/html)
#   make test   unit tests + every notebook under pytest/nbval
# Both create .venv and install requirements.txt when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# On small shared CPUs the OpenMP spin-wait makes torch ~10x slower; set before torch is imported.
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONHASHSEED ?= 0
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1

PYTEST_NB := --nbval-lax --nbval-current-env --nbval-cell-timeout=600

.PHONY: install book test test-unit test-notebooks test-browser benchmarks clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_NB)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not browser" tests

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_NB) book

# Needs `make book` first, and Debian's chromium + chromium-driver.
test-browser: $(STAMP)
	SGDLAB_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m browser tests/test_browser.py

benchmarks: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build
