# canmv-rtsp: build, test and demo entry points (see README.md).
#
#   make setup   install what is missing (Debian packages when root, cbindgen,
#                rust-src, pytest) and fetch the MicroPython source
#   make         build/micropython: the unix port with the `multimedia` module
#   make demo    stream the bundled clip at rtsp://127.0.0.1:8554/test (ARGS=...)
#   make test    every test
#   make k230    the riscv64 musl staticlib, header and shim in build/k230/
#   make test-riscv64   the unix port with the module for riscv64, tested under qemu-riscv64
#   make header / check-header   regenerate / verify include/canmv_rtsp.h
#   make fuzz    every cargo-fuzz target for FUZZ_SECONDS each (default 60)
#
# MICROPY_DIR=/path/to/micropython builds against an existing MicroPython tree.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:

ROOT := $(CURDIR)

ifdef MICROPY_DIR
export MICROPY_DIR
else
MICROPY_DIR := $(ROOT)/.deps/micropython
endif

CARGO ?= cargo
CARGO_TARGET_DIR ?= $(ROOT)/target
export CARGO_TARGET_DIR

HOST_LIB := $(CARGO_TARGET_DIR)/release/libcanmv_rtsp.a
K230_TARGET := riscv64gc-unknown-linux-musl
K230_LIB := $(CARGO_TARGET_DIR)/$(K230_TARGET)/k230/libcanmv_rtsp.a
K230_DIR := $(ROOT)/build/k230
# With the target installed for the default toolchain (rustup target add), its
# prebuilt core and alloc; otherwise nightly builds them from rust-src, with
# the immediate-abort panic strategy: the board's panic handler only aborts,
# so core's panic messages and their formatting (about 33 KB) are dead weight.
K230_BUILD := $(if $(filter $(K230_TARGET),$(shell rustup target list --installed 2>/dev/null)),\
	$(CARGO) build,RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" $(CARGO) +nightly build -Z build-std=core,alloc)

RUST_SOURCES := Cargo.toml Cargo.lock $(shell find src -name '*.rs')
SHIM_SOURCES := $(addprefix micropython/,modmultimedia.c micropython.mk micropython.cmake)
HEADER := include/canmv_rtsp.h

PORT_BUILD := $(ROOT)/build/unix-port
# Not `micropython`: the shim's objects go to $(PORT_BUILD)/micropython/.
PORT_PROG := micropython-multimedia
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Debian's tarball strips the libraries behind btree, ssl and ffi.
PORT_FLAGS := \
	USER_C_MODULES=$(ROOT) \
	CANMV_RTSP_LIB=$(HOST_LIB) \
	BUILD=$(PORT_BUILD) PROG=$(PORT_PROG) \
	MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 \
	FROZEN_MANIFEST=

.PHONY: all setup demo test k230 test-riscv64 header check-header fuzz bench clean

all: build/micropython

setup:
	scripts/setup.sh

$(MICROPY_DIR)/py/mpconfig.h:
	scripts/fetch-micropython.sh

# Cargo decides what to rebuild; the touch makes the archive newer than its
# sources even when cargo had nothing to do.
$(HOST_LIB): $(RUST_SOURCES)
	$(CARGO) build --release
	touch $@

# The port does not relink when only the archive changed: remove its binary.
# GIT_CEILING_DIRECTORIES: the MicroPython tree under .deps/ must not take its
# version from this repository's git history. build/micropython is replaced by
# rename, as the old binary may still be running.
build/micropython: $(HOST_LIB) $(SHIM_SOURCES) $(HEADER) | $(MICROPY_DIR)/py/mpconfig.h
	rm -f $(PORT_BUILD)/$(PORT_PROG)
	GIT_CEILING_DIRECTORIES=$(abspath $(MICROPY_DIR)/..) \
		$(MAKE) -C $(MICROPY_DIR)/ports/unix $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(JOBS)) $(PORT_FLAGS)
	mkdir -p $(@D)
	cp $(PORT_BUILD)/$(PORT_PROG) $@.tmp
	mv -f $@.tmp $@

header:
	cbindgen --config cbindgen.toml --crate canmv_rtsp --output $(HEADER)

check-header:
	@tmp=$$(mktemp --suffix=.h); trap 'rm -f "$$tmp"' EXIT; \
	cbindgen --quiet --config cbindgen.toml --crate canmv_rtsp --output "$$tmp"; \
	if ! diff -u $(HEADER) "$$tmp"; then \
		echo "$(HEADER) differs from what cbindgen makes of src/ffi.rs (diff above). Run 'make header' and commit the result." >&2; \
		exit 1; \
	fi; \
	echo "$(HEADER) matches src/ffi.rs"

k230: $(RUST_SOURCES) $(SHIM_SOURCES) $(HEADER)
	$(K230_BUILD) --target $(K230_TARGET) --profile k230
	rm -rf $(K230_DIR)
	mkdir -p $(K230_DIR)/micropython
	cp $(K230_LIB) $(HEADER) $(K230_DIR)/
	cp $(SHIM_SOURCES) $(K230_DIR)/micropython/
	@echo "build/k230/: libcanmv_rtsp.a, canmv_rtsp.h, micropython/ (USER_C_MODULES=build/k230)"
	@ls -l $(K230_DIR)/libcanmv_rtsp.a
	@$(if $(shell command -v riscv64-linux-gnu-size),riscv64-linux-gnu-size,size) --totals $(K230_DIR)/libcanmv_rtsp.a | tail -n 1 | \
		awk '{ printf "archive totals (the linker keeps only what is used): text %s, data %s, bss %s bytes\n", $$1, $$2, $$3 }'
	@scripts/riscv64-linked-size.sh $(K230_DIR)/libcanmv_rtsp.a $(HEADER)
	@scripts/check-undefined-symbols.sh $(K230_DIR)/libcanmv_rtsp.a docs/k230-symbols.txt

# build/riscv64/: Rust for riscv64gc-unknown-linux-gnu, the unix port by
# riscv64-linux-gnu-gcc (static), the API and H.264 suites under qemu-riscv64.
test-riscv64: | $(MICROPY_DIR)/py/mpconfig.h
	MICROPY_DIR=$(MICROPY_DIR) CARGO=$(CARGO) scripts/riscv64-test.sh

# Each target bounded in time; `make test` runs each briefly (FUZZ_SECONDS=10).
fuzz:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) scripts/fuzz.sh

# NVR-behaviour soak (tests/soak/soak.py): the unix port with its default
# options, a zoo of clients on 127.0.0.1 for SOAK_MINUTES (at least 2); report,
# plot and samples in build/soak/. SOAK_ARGS="--sched loop-high" (or
# script-high, or RTSP_SCHED=...) runs the server on core 0 under SCHED_FIFO.
SOAK_MINUTES ?= 10
.PHONY: soak
soak: setup
	$(MAKE) build/micropython
	MICROPYTHON=$(ROOT)/build/micropython python3 tests/soak/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# The board's scheduler (issue 9): the streaming suites, the RTCP keepalive
# test and a 2-minute soak with the server on core 0 under SCHED_FIFO (see
# RTSP_SCHED in tests/python/helpers.py), once with the script's thread above
# the loop thread and once below it; soak reports in build/soak/<order>/.
# Needs root or CAP_SYS_NICE (make test runs it as root).
.PHONY: test-sched
test-sched: setup
	$(MAKE) build/micropython
	status=0; for order in script-high loop-high; do \
		RTSP_SCHED=$$order MICROPYTHON=$(ROOT)/build/micropython python3 -m pytest -v \
			tests/python/test_stream_h264.py tests/python/test_stream_h265.py \
			tests/python/test_stream_mjpeg.py tests/python/test_keepalive.py || status=1; \
		MICROPYTHON=$(ROOT)/build/micropython python3 tests/soak/soak.py --minutes 2 --sched $$order \
			--out $(ROOT)/build/soak/$$order || status=1; \
	done; exit $$status

demo: setup
	$(MAKE) build/micropython
	build/micropython examples/host/stream_file.py $(ARGS)

test: setup
	$(CARGO) test
	$(CARGO) clippy --all-targets -- -D warnings
	python3 scripts/check_layers.py
	$(MAKE) check-header
	$(MAKE) k230
	$(MAKE) fuzz FUZZ_SECONDS=10
	$(MAKE) sim-ci
	$(MAKE) build/micropython retina-client
	MICROPYTHON=$(ROOT)/build/micropython python3 -m pytest -v tests/python
	MICROPYTHON=$(ROOT)/build/micropython python3 -m pytest -v tests/board --target unix
	$(MAKE) soak SOAK_MINUTES=3
	$(MAKE) test-sched
	$(MAKE) test-riscv64

# The deterministic simulator (sim/, its own cargo workspace): the core in a
# simulated world from one seed. make sim SIM_SEED=.. SIM_SEEDS=.. SIM_DAYS=..
# SIM_CLIENTS=.. SIM_FPS=..; sim-ci: the seeds make test runs (about a
# minute); sim-regressions: sim/regressions.txt, each seed with and without its bug.
SIM_DIR := $(ROOT)/build/sim
SIM_BIN := $(SIM_DIR)/target/release/canmv_rtsp-sim
SIM_SOURCES := sim/Cargo.toml sim/Cargo.lock $(shell find sim/src -name '*.rs')
export SIM_SEED SIM_SEEDS SIM_DAYS SIM_CLIENTS SIM_FPS
.PHONY: sim sim-ci sim-regressions
$(SIM_BIN): $(RUST_SOURCES) $(SIM_SOURCES)
	CARGO_TARGET_DIR=$(SIM_DIR)/target $(CARGO) build --release --locked --manifest-path sim/Cargo.toml
	touch $@

sim: $(SIM_BIN)
	$(SIM_BIN)

sim-ci: $(SIM_BIN)
	CARGO_TARGET_DIR=$(SIM_DIR)/target $(CARGO) clippy --release --locked --manifest-path sim/Cargo.toml -- -D warnings
	SIM_SEED=1 SIM_SEEDS=2000 SIM_DAYS=0.005 SIM_CLIENTS=20 SIM_FPS=1 $(SIM_BIN)
	SIM_SEED=10001 SIM_SEEDS=60 SIM_DAYS=0.002 SIM_CLIENTS=100 SIM_FPS=30 $(SIM_BIN)
	$(MAKE) sim-regressions

sim-regressions: $(SIM_BIN)
	scripts/sim-regressions.sh $(SIM_BIN) $(SIM_DIR)

# The retina test client (tests/python/test_retina.py): its own cargo
# workspace, built in build/retina/target (never the crate's target dir).
RETINA_DIR := $(ROOT)/build/retina
.PHONY: retina-client
retina-client:
	CARGO_TARGET_DIR=$(RETINA_DIR)/target $(CARGO) build --release --locked --manifest-path tests/retina_client/Cargo.toml
	@echo "retina client: $(RETINA_DIR)/target/release/retina-client"

# Ours beside gst-rtsp-server (and our pusher beside ffmpeg's) on 127.0.0.1, one table and bench/RESULTS.md
# (about 7 minutes on 2 cores; BENCH_FULL=1: the issue's 30 s scale windows).
# The load client is its own cargo workspace, built in build/bench/target.
BENCH_DIR := $(ROOT)/build/bench
bench: setup
	$(MAKE) build/micropython k230 $(SIM_BIN)
	CARGO_TARGET_DIR=$(BENCH_DIR)/target $(CARGO) build --release --manifest-path bench/loadclient/Cargo.toml
	$(MAKE) $(BENCH_DIR)/clip.264
	/usr/bin/python3 bench/run.py

# 2 Mbit/s H.264, 2 s GOP, no B-frames; noise so that x264 really spends the rate.
$(BENCH_DIR)/clip.264:
	mkdir -p $(@D)
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
		-i 'testsrc=size=1280x720:rate=30:duration=10,noise=alls=12:allf=t' \
		-c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 0 -b:v 2M -maxrate 2M -bufsize 2M \
		-x264-params keyint=60:min-keyint=60:scenecut=0 -f h264 $@.tmp
	mv -f $@.tmp $@

clean:
	rm -rf build
	$(CARGO) clean
