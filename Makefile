# NetZeroAICT — make targets. Every target sets up .venv (pinned requirements) when needed.
#   make demo    main job: phantom NCCT → synthetic CTA, uncertainty, preview, run record (demo-output/)
#   make test    the test suite (tests needing ../shared/data skip where it is absent)
#   make bench   benchmarks: timings and ratios measured in one run
#   make models  retrain every shipped model from scratch, each with its own budget (about 6 h on 2 CPU cores)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test demo bench models cmake-lists clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider Testing

demo: $(STAMP)
	$(PY) -m NetZeroAICT demo --out demo-output $(if $(INPUT),--input "$(INPUT)",)

bench: $(STAMP)
	$(PY) -m Testing.bench

models: $(STAMP)
	$(PY) -m NetZeroAICT models --all

cmake-lists: $(STAMP)
	$(PY) tools/cmake_lists.py

clean:
	rm -rf demo-output bench-output .pytest_cache
