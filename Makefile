# Two commands for a fresh clone: `make demo` trains and evaluates on the embedded synthetic
# aerial world; `make test` runs the test suite. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3

.PHONY: demo test lint gpu-check

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/rs-vlm fit --config configs/demo.yaml

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# One-go GPU check (about 4 min on an H200); figures in gpu_check_out/gpu_check.md.
gpu-check: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/gpu_check.py --device cuda --output gpu_check_out
