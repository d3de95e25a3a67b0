# Two commands: `make run` (set up .venv, then dvc repro) and `make test`.
# Stage commands run `python` from PATH, so every DVC call here puts .venv/bin first.
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test install lock clean-venv

run: $(STAMP)
	dvc repro

test: $(STAMP)
	python -m pytest

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.lock
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-pin every package after changing the dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test]'
	{ echo "# Exact pins for every package in .venv, from 'make lock' (pip freeze)."; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v "^pip=="; } > requirements.lock

clean-venv:
	rm -rf $(VENV)
