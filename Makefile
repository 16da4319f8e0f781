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
	@echo "== detect: examples/images -> $(OUT)/detect/ (boxes drawn), $(OUT)/faces-blurred/ (mtcnn --redact blur)"
	@$(BIN)/optik detect examples/images -o $(OUT)/detect/ --overwrite --format jsonl > $(OUT)/detect.jsonl
	@$(BIN)/optik detect examples/images --model mtcnn --redact blur -o $(OUT)/faces-blurred/ --overwrite \
		--format jsonl > $(OUT)/detect-faces.jsonl
	@echo "== style: examples/images -> $(OUT)/style/ (blue-swirls), $(OUT)/style-gallery.png"
	@$(BIN)/optik style examples/images --style blue-swirls -o $(OUT)/style/ --overwrite --format jsonl > $(OUT)/style.jsonl
	@$(BIN)/optik style examples/images/chelsea.png --gallery $(OUT)/style-gallery.png --overwrite -q
	@echo "== segment: examples/images -> $(OUT)/segment/ (cut-outs: isnet when pulled, else selfie), $(OUT)/segment-masks/ (otsu)"
	@$(BIN)/optik segment examples/images -o $(OUT)/segment/ --overwrite --format jsonl > $(OUT)/segment.jsonl
	@$(BIN)/optik segment examples/images -m otsu --mode mask -o $(OUT)/segment-masks/ --overwrite \
		--format jsonl > $(OUT)/segment-otsu.jsonl
	@echo "== enhance: examples/images -> $(OUT)/enhance/ (realesr-animevideov3 ×2), $(OUT)/enhance-classical/"
	@$(BIN)/optik enhance examples/images -m realesr-animevideov3 -s 2 -o $(OUT)/enhance/ --overwrite \
		--format jsonl > $(OUT)/enhance.jsonl
	@$(BIN)/optik enhance examples/images -m none --white-balance --clahe --sharpen 0.6 -o $(OUT)/enhance-classical/ \
		--overwrite --format jsonl > $(OUT)/enhance-classical.jsonl
	@$(BIN)/python examples/summarize.py $(OUT)

test: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/python -m pytest -q

test-pulled: setup
	$(BIN)/optik models pull isnet
	$(BIN)/optik models pull meet
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
