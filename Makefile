# vitdistill — DINO and DeiT reproduced on a CPU, in Swift.
#
#   make figures   run every experiment at SCALE (default) and SEED (0) and render every figure;
#                  SCALE=full trains each model to its plateau (hours; figures/full, committed);
#                  only what changed reruns; RESUME=1 continues the experiments a Ctrl-C stopped,
#                  FRESH=1 discards their checkpoints (without either, a stopped run's are kept)
#   make <experiment>  one experiment and its figure: supervised, patch-throughput, collapse,
#                  ema-teacher, distillation, token-similarity, attention-maps
#   make plots     render every figure from the data (SCALE=full: figures/full/data), no training
#   make test      build in release, run the tests, then the quick pipeline as a smoke test
#   make bench     speed of the tensor core on this machine (not a test); AVX2=1 its AVX2 path
#   make fuzz      100 000 mutated safetensors and IDX files against their readers, counted by outcome
#   make token-similarity-dose  DeiT⚗'s token cosine against its teacher's strength (an hour or more)
#   make setup     install the system packages that are missing
#   make build     release build of every executable;  make clean  removes the builds
SHELL := /bin/bash
.DEFAULT_GOAL := help

PACKAGES := gnuplot-nox libopenblas-dev zlib1g-dev libdnnl-dev dataset-fashion-mnist
SCALE ?= default
SEED ?= 0
# The experiments, in the order make figures runs them (later ones reuse earlier ones' models:
# attention-maps the patch-4 DINO of patch-throughput).
EXPERIMENTS := supervised patch-throughput attention-maps collapse ema-teacher distillation token-similarity
# One figure per experiment: figures/<experiment>.gp draws data/<experiment>* beside it (figures/data;
# a copy of it in figures/full draws figures/full/data). `make plots` skips an experiment not yet run.
FIGURE_SCRIPTS := $(EXPERIMENTS:%=%.gp)
SWIFT_BUILD_FLAGS := -c release
# Seed 0 of the default and full scales writes the committed data and figures (figures/ and
# figures/full/); any other scale or seed writes its own copy under .build, so a smoke run never
# overwrites them.
COMMITTED_DIR := $(if $(filter 0,$(SEED)),$(if $(filter default,$(SCALE)),figures,$(if $(filter full,$(SCALE)),figures/full)))
FIGURE_DIR := $(or $(COMMITTED_DIR),.build/figures-$(SCALE)$(if $(filter-out 0,$(SEED)),-seed$(SEED)))
DATA_DIR := $(FIGURE_DIR)/data
BINARIES := $(EXPERIMENTS:%=.build/release/%)
DATA_FILES := $(EXPERIMENTS:%=$(DATA_DIR)/%.json)
FIGURE_FILES := $(EXPERIMENTS:%=$(FIGURE_DIR)/%.png)
SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)

# Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs (Zen 4/5) and falls back to its
# Haswell kernels at half the speed. The library reads OPENBLAS_CORETYPE once, when it loads, so it
# has to be in the environment before any of our processes start. A value the user set wins.
# (Each executable also re-launches itself with it when it is missing: see Tensor/BLAS.swift.)
ifneq ($(shell grep -m1 -ow avx512f /proc/cpuinfo 2>/dev/null),)
export OPENBLAS_CORETYPE ?= SkylakeX
endif

.PHONY: help setup build test bench fuzz figures plots token-similarity-dose clean $(EXPERIMENTS)

help:
	@sed -n '3,15p' Makefile | sed 's/^# //'

# Installs the missing Debian packages when run as root; otherwise prints the exact command.
# apt's own output is shown only if the install fails (a fresh machine needs `apt-get update`).
setup:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "setup: missing packages:$$missing" >&2; \
	  echo "setup: install them with:  sudo apt-get install -y$$missing" >&2; \
	  exit 1; \
	fi; \
	echo "setup: installing$$missing"; \
	log=$$(mktemp); export DEBIAN_FRONTEND=noninteractive; \
	if apt-get install -y -q $$missing >$$log 2>&1 \
	   || { apt-get update -q >>$$log 2>&1 && apt-get install -y -q $$missing >>$$log 2>&1; }; then \
	  rm -f $$log; \
	else \
	  cat $$log >&2; rm -f $$log; echo "setup: apt-get could not install$$missing" >&2; exit 1; \
	fi

build: setup
	swift build $(SWIFT_BUILD_FLAGS)

# After the tests, every experiment and plot script once at quick scale, so a
# broken executable or figure fails here too.
test: setup
	swift build $(SWIFT_BUILD_FLAGS) --build-tests
	swift test $(SWIFT_BUILD_FLAGS) --skip-build
	@$(MAKE) --no-print-directory figures SCALE=quick
	@$(MAKE) --no-print-directory token-similarity-dose SCALE=quick

# The build's progress goes to stderr so that stdout is only the benchmark's table. AVX2=1
# measures the AVX2 path on any machine: our kernels compiled for Haswell (AVX2, FMA) into
# .build-avx2, and OpenBLAS's Haswell kernels.
bench: setup
ifdef AVX2
	@VITDISTILL_TARGET_CPU=haswell swift build $(SWIFT_BUILD_FLAGS) --scratch-path .build-avx2 --product bench >&2
	@OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 .build-avx2/release/bench
else
	@swift build $(SWIFT_BUILD_FLAGS) --product bench >&2
	@.build/release/bench
endif

# Every case ends in a value or an error; a crash, a hang (10 s) or an over-allocation fails it
# and prints the command that reruns the case. FUZZ_CASES and FUZZ_SEED change the run.
FUZZ_CASES ?= 100000
FUZZ_SEED ?= 1
fuzz: setup
	@swift build $(SWIFT_BUILD_FLAGS) --product fuzz >&2
	@.build/release/fuzz --cases $(FUZZ_CASES) --seed $(FUZZ_SEED)

# Every executable in one build (SwiftPM builds them together and locks .build for a second caller).
$(BINARIES) &: $(SOURCES) | setup
	swift build $(SWIFT_BUILD_FLAGS)

# An experiment reruns when its executable is newer than its data: a fresh clone reruns them all,
# an unchanged one none. It prints its progress, writes $(DATA_DIR)/<experiment>*, its JSON summary
# last, and the time it took. Ctrl-C (or SIGTERM) stops it after its current training step with a
# checkpoint in .cache/runs; `make <experiment> RESUME=1` continues from there. Two experiments
# that need the same trained model (a teacher, the DeiT student) wait for each other on a lock in
# .cache, so `make -j` is safe.
$(DATA_FILES): $(DATA_DIR)/%.json: .build/release/%
	@start=$$(date +%s); \
	.build/release/$* --scale $(SCALE) --seed $(SEED) --output $(DATA_DIR) $(if $(RESUME),--resume)$(if $(FRESH), --fresh) || { status=$$?; \
	  [ $$status -gt 128 ] && echo "make: $* was stopped; make $*$(if $(filter-out default,$(SCALE)), SCALE=$(SCALE))$(if $(filter-out 0,$(SEED)), SEED=$(SEED)) RESUME=1 continues it" >&2; \
	  exit $$status; }; \
	echo "make: $* took $$(( $$(date +%s) - start )) s"

# Results: never deleted by make, not even when it is interrupted.
.PRECIOUS: $(DATA_FILES)

# The figure scripts beside another scale's data, each copied to a temporary name and renamed:
# under make -j a plain cp rewrote a script another job's gnuplot was reading.
COPY_SCRIPTS = if [ "$(FIGURE_DIR)" != figures ]; then mkdir -p $(FIGURE_DIR) && for f in figures/*.gp; do \
	  cp $$f $(FIGURE_DIR)/.$${f\#figures/}.$$$$ && mv -f $(FIGURE_DIR)/.$${f\#figures/}.$$$$ $(FIGURE_DIR)/$${f\#figures/} || exit 1; done; fi

# A figure is redrawn when its script or its data changed.
$(FIGURE_FILES): $(FIGURE_DIR)/%.png: figures/%.gp $(DATA_DIR)/%.json
	@$(COPY_SCRIPTS)
	@cd $(FIGURE_DIR) && gnuplot $*.gp && echo "plots: $(FIGURE_DIR)/$*.png, .svg"

$(EXPERIMENTS): %: $(FIGURE_DIR)/%.png

figures: $(FIGURE_FILES)

# Drawing needs gnuplot alone: not the dataset, not OpenBLAS.
plots:
	@$(MAKE) --no-print-directory setup PACKAGES=gnuplot-nox
	@$(COPY_SCRIPTS)
	@cd $(FIGURE_DIR) && for f in $(FIGURE_SCRIPTS); do \
	  if [ ! -e data/$${f%.gp}.json ]; then echo "plots: $(FIGURE_DIR)/data has no $${f%.gp}.json yet; skipped"; continue; fi; \
	  gnuplot $$f || exit 1; echo "plots: $(FIGURE_DIR)/$${f%.gp}.png, .svg"; done

# The dose-response study of token-similarity's panel (d): DeiT⚗ taught by ConvNets trained for
# 1, 2, 5 and 40 epochs, 3 seeds each, against the control; writes $(DATA_DIR)/token-similarity-dose*
# and redraws the figure. It reuses the models `make token-similarity` cached. RESUME=1 continues it.
token-similarity-dose: .build/release/token-similarity $(DATA_DIR)/token-similarity.json
	.build/release/token-similarity --dose-response --scale $(SCALE) --seed $(SEED) --output $(DATA_DIR) $(if $(RESUME),--resume)$(if $(FRESH), --fresh)
	@$(COPY_SCRIPTS)
	@cd $(FIGURE_DIR) && gnuplot token-similarity.gp && echo "plots: $(FIGURE_DIR)/token-similarity.png, .svg"

clean:
	rm -rf .build .build-avx2
