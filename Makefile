PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# A second environment without torch: the core (arrays, safetensors, npz, HF folders, hf:, GGUF, ONNX)
CORE_VENV  := .venv-core
CORE_PY    := $(CORE_VENV)/bin/python
CORE_STAMP := $(CORE_VENV)/.installed
CORE_MIN_PASSED ?= 600

.PHONY: setup test test-core demo bench docs notebooks clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py constraints.txt kcomplexity/_native.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" -c constraints.txt
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

$(CORE_STAMP): pyproject.toml setup.py constraints.txt kcomplexity/_native.c
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_PY) -m pip install --quiet --upgrade "pip>=24" -c constraints.txt
	$(CORE_PY) -m pip install --quiet -c constraints.txt -e ".[test-core]"
	@if $(CORE_PY) -c "import torch" 2>/dev/null; then echo "torch got into $(CORE_VENV)"; exit 1; fi
	touch $(CORE_STAMP)

test: setup
	$(PY) -m pytest -q

# The modules that need torch skip themselves; at least CORE_MIN_PASSED tests must pass here.
test-core: $(CORE_STAMP)
	$(CORE_PY) -m pytest -q -p no:cacheprovider --basetemp=$(CORE_VENV)/pytest-tmp \
		--ignore=kcomplexity/train --ignore=kcomplexity/demo --junitxml=$(CORE_VENV)/junit.xml
	$(CORE_PY) .ci/min_passed.py $(CORE_VENV)/junit.xml $(CORE_MIN_PASSED)

demo: setup
	$(VENV)/bin/kcomplexity demo --out report

docs: setup
	$(VENV)/bin/mkdocs build --strict

notebooks: setup  # re-execute the notebooks and store their outputs (figures) in place; the tests check them
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=900 notebooks/*.ipynb

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(CORE_VENV) report .pytest_cache
