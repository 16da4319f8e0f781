# optik — every target sets up what it needs. `make demo`, `make test` on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.optik-installed
OUT    := out
PIP    := -m pip install -q --disable-pip-version-check
TORCH  := torch==2.14.1 torchvision==0.29.1
LOCK   := constraints.txt

.PHONY: setup lock fixtures demo test fuzz lint models models-check wheel bench clean

setup: $(STAMP)

# Everything the suite imports comes at the exact version in $(LOCK); `make lock` refreshes it on purpose.
$(STAMP): pyproject.toml setup.py $(LOCK) Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP) -c $(LOCK) $(TORCH)
	$(BIN)/python $(PIP) -c $(LOCK) -e '.[test,onnxruntime,ncnn]'
	# the reference MTCNN for fidelity tests only; its pins predate torch 2.14, and it needs nothing else here
	$(BIN)/python $(PIP) -c $(LOCK) --no-deps facenet-pytorch
	@touch $(STAMP)

# The newest release of every test dependency, resolved in a scratch venv and pinned into $(LOCK).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python $(PIP) $(TORCH)
	.lock-venv/bin/python $(PIP) -e '.[test,onnxruntime,ncnn]'
	.lock-venv/bin/python $(PIP) --no-deps facenet-pytorch==2.6.0
	{ echo "# Exact versions for \`make setup\` (the test toolchain); regenerate with \`make lock\`."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v -e '^pip==' -e '^optik'; } > $(LOCK)
	rm -rf .lock-venv

# The upstream packages and pull-only models the tests compare against, cached before the tests run.
fixtures: setup
	$(BIN)/python -m tests.fixtures.fetch_all

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

test: setup fixtures
	$(BIN)/ruff check src tests bench examples
	$(BIN)/python -m pytest -q --durations=10

# Every command over the whole fuzz corpus in every mode (make test runs a subset): a table per command.
fuzz: setup
	$(BIN)/python -m tests.fuzz.harness

lint: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

models: setup
	$(BIN)/python -m optik.convert.build

models-check: setup
	$(BIN)/python -m optik.convert.build --check

# A wheel in dist/ that carries models/ (see setup.py): `pip install dist/optik-*.whl`.
wheel: setup
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w dist .

bench: setup
	$(BIN)/python bench/classify.py

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache build dist .lock-venv
