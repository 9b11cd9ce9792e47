# The few commands a contributor needs. `make test` works on a fresh machine with Python 3.10+
# and a Rust toolchain: it creates .venv, installs the package (building the Rust core) and runs
# every test.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# cargo test links libpython; a shared-library Python (pyenv, Debian) keeps it here.
PYLIBDIR := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')

.PHONY: venv install develop test test-rust test-python lint fmt clean walkthrough bench bench-smoke bench-wire-smoke

venv: $(PY)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.7,<2" "pytest>=7" msgpack ruff "mypy==2.4.1" pyzmq jsonschema

# What users get: a release build installed into the venv.
install: venv
	$(PY) -m pip install -q .

# An editable debug build for working on the code.
develop: venv
	$(VENV)/bin/maturin develop

# The main job: the seed document's walkthrough against the bundled demo app.
walkthrough: install
	PATH="$(abspath $(VENV))/bin:$$PATH" examples/seed/walkthrough.sh

# Benchmarks against nginx with wrk, original mite, Locust and Goose (bench/README.md).
bench:
	bench/run

# A few seconds of mite-rs alone, printing its numbers (CI runs this; it never fails on speed).
bench-smoke: install
	bench/run --smoke --mite-rs-python $(PY)

# The duplicator against original mite's (MITE_ORIGINAL_VENV), one short run each.
bench-wire-smoke: install
	bench/wire --messages 500000 --reps 1 --mite-rs-python $(PY) --mite-python $(MITE_ORIGINAL_VENV)/bin/python

test: install test-rust test-python

test-rust:
	LD_LIBRARY_PATH=$(PYLIBDIR):$$LD_LIBRARY_PATH cargo test --workspace

# The HTTP tests run twice: with requests handed to the HTTP thread, and with the event loop's
# thread doing its own HTTP work (what `mite` chooses on one CPU).
test-python: venv
	$(PY) -m pip show -q jsonschema >/dev/null 2>&1 || $(PY) -m pip install -q jsonschema
	$(PY) -m pytest
	MITE_HTTP_THREADS=0 $(PY) -m pytest -q tests/test_http.py tests/test_walkthrough_http.py

# stubtest imports the installed native module, so lint checks the build `install` made.
lint: install
	$(PY) -m pip show -q mypy >/dev/null 2>&1 || $(PY) -m pip install -q "mypy==2.4.1"
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests docs
	$(VENV)/bin/ruff format --check python tests docs
	$(PY) -m mypy.stubtest mite._mite --allowlist python/mite/_mite.stubtest-allowlist

fmt: venv
	cargo fmt --all
	$(VENV)/bin/ruff format python tests docs

clean:
	rm -rf $(VENV) target
