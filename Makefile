# Two commands from a fresh clone: `make demo` and `make test`.
PY := .venv/bin/python
export OMP_NUM_THREADS ?= 2

.PHONY: setup demo test lint format demo-weights

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

# Rebuild the two committed tiny demo models from scratch on this CPU (hours; see README).
demo-weights: setup
	bash scripts/train_tiny_siammask.sh
	bash scripts/train_tiny_htc.sh
