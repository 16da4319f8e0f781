# optik — every target sets up what it needs. `make demo`, `make test` on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.optik-installed
OUT    := out

.PHONY: setup demo test test-pulled lint models models-check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	# the reference MTCNN for fidelity tests only; its pins predate torch 2.14, and it needs nothing else here
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps facenet-pytorch==2.6.0
	@touch $(STAMP)

demo: setup
	@mkdir -p $(OUT)
	@echo "== classify: examples/images -> $(OUT)/classify.jsonl"
	@$(BIN)/optik classify examples/images --format jsonl > $(OUT)/classify.jsonl
	@$(BIN)/python examples/summarize.py $(OUT)

test: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/python -m pytest -q

test-pulled: setup
	$(BIN)/python -m pytest -q -m pulled

lint: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

models: setup
	$(BIN)/python -m optik.convert.build

models-check: setup
	$(BIN)/python -m optik.convert.build --check

bench: setup
	$(BIN)/python bench/classify.py

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
