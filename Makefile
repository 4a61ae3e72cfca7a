# Two commands from a fresh clone: `make demo` and `make test`.
PY := .venv/bin/python
export OMP_NUM_THREADS ?= 2

.PHONY: setup demo test lint format

setup:
	bash scripts/setup_env.sh

demo: setup
	bash scripts/demo.sh

test: setup
	$(PY) -m pytest tests

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
