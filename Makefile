# Two commands: `make run` (set up .venv, then dvc repro) and `make test` (`make lint`, then pytest).
# `make run GPU=1` on a machine with an NVIDIA GPU: the CUDA build of the pinned TensorFlow, then dvc repro.
# Stage commands run `python` from PATH, so every DVC call here puts .venv/bin first.
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
GPU_STAMP  := $(VENV)/.gpu-installed
TF_VERSION  = $(shell sed -n 's/^tensorflow[-_]cpu==//p' requirements.lock)
NODE_STAMP := node_modules/.installed
export PATH := $(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test lint format install lock clean-venv exps chromium

run: $(STAMP) $(if $(GPU),$(GPU_STAMP))
	dvc repro

test: lint $(NODE_STAMP) chromium
	python -m pytest

# ruff, configured in pyproject.toml: lint rules and the code's format, checked (not changed) by `make test`.
lint: $(STAMP)
	ruff check .
	ruff format --check .

format: $(STAMP)
	ruff check --fix .
	ruff format .

install: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.lock
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Both builds install the same tensorflow/ folder: remove both before the CUDA one goes in.
$(GPU_STAMP): $(STAMP)
	$(BIN)/python -m pip uninstall --disable-pip-version-check -q -y tensorflow-cpu tensorflow
	$(BIN)/python -m pip install --disable-pip-version-check -q "tensorflow[and-cuda]==$(TF_VERSION)"
	$(BIN)/python -c "import tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); print('GPUs:', gpus); assert gpus, 'TensorFlow sees no GPU'"
	touch $(GPU_STAMP)

# Azurite, the Azure Storage emulator tests/test_remote.py pushes to, pinned in package-lock.json.
# Without npm, make only warns: that test cannot run then (it skips without Node.js, and fails in CI).
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund && touch $(NODE_STAMP); \
	else echo "npm not found: Azurite not installed (the Azure round trip in tests/test_remote.py needs Node.js)"; fi

# Chromium, the headless browser tests/test_plots_offline.py renders `dvc plots` pages in (Debian's package).
# Installed with apt-get when it is missing and make runs as root; otherwise make only warns (that test skips
# without it, and fails in CI).
chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	else echo "chromium not found: install it (apt-get install chromium) for the offline plots test"; fi

# Re-pin every package after changing the dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test]'
	{ echo "# Exact pins for every package in .venv, from 'make lock' (pip freeze)."; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v "^pip=="; } > requirements.lock

clean-venv:
	rm -rf $(VENV)

# The experiment table on one screen: summary metrics (test macro F1 first, best run first) and the
# params that differ between runs; `dvc exp show --only-changed` adds per-class F1 and changed deps.
# `--drop` patterns match from the start of a column's name; `--keep` shows macro F1 even where no
# run changed it; ARGS=--csv (or --md) for a file.
exps:
	dvc exp show --only-changed --drop 'per_class_f1\.|.*/|Created' --keep '^macro_f1$$' --sort-by macro_f1 --sort-order desc $(ARGS)
