# Two commands from a fresh clone: `make demo` and `make test`.
PY := .venv/bin/python
export OMP_NUM_THREADS ?= 2

.PHONY: setup demo test test-ray lint format demo-weights

setup:
	bash scripts/setup_env.sh

demo: setup
	bash scripts/demo.sh

# Tests marked `ray` start a local Ray cluster. Ray is an optional extra (pip install -e .[ray]): without
# it `make test` deselects them (-m "not ray"), on purpose and visibly; `make test-ray` insists on Ray.
HAVE_RAY = $(shell $(PY) -c "import ray" >/dev/null 2>&1 && echo yes)

test: setup
	$(if $(HAVE_RAY),,@echo "make test: Ray not installed, deselecting the tests marked ray (see make test-ray)")
	$(PY) -m pytest tests $(if $(HAVE_RAY),,-m "not ray")

test-ray: setup
	@$(PY) -c "import ray" 2>/dev/null || { echo "make test-ray: Ray is not installed (.venv/bin/pip install -e .[ray])" >&2; exit 1; }
	$(PY) -m pytest tests -m ray

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

# Rebuild the committed tiny demo models from scratch on this CPU (hours; see README).
demo-weights: setup
	bash scripts/train_tiny_siammask.sh
	bash scripts/train_tiny_htc.sh
	DETECTOR=tiny_htc_ms bash scripts/train_tiny_htc.sh
	DETECTOR=tiny_htc_ms2 bash scripts/train_tiny_htc.sh
	DETECTOR=tiny_htc_ms3 bash scripts/train_tiny_htc.sh
	DETECTOR=tiny_htc_ms4 bash scripts/train_tiny_htc.sh
