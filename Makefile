# bulwark: the one entry point for building, testing and benchmarking.
# `make test` is what CI runs (.ci/run); it must pass on a fresh machine.

GO        ?= go
PKGS      := ./...
SIMD_PKGS := ./kernels/ ./tensor/
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
QEMU      := qemu-aarch64-static
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CROSS     := linux/amd64 linux/arm64 darwin/arm64 windows/amd64

export CGO_ENABLED := 0

.PHONY: all build demo test fmt-check vet lint unit race purego cross arm64 qemu bench bench-go data clean

all: build

build:
	$(GO) build -o bin/bulwark ./cmd/bulwark

## demo: the main job. Until the pruning pipeline exists it runs the kernel benchmark.
demo: build
	./bin/bulwark bench

## test: everything CI checks.
test: fmt-check vet lint unit race purego cross arm64
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

qemu:
	@command -v $(QEMU) >/dev/null || { \
		echo "installing qemu-user-static"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static; }

## bench: the benchmark table, then the go test benchmarks.
bench: build
	./bin/bulwark bench
	$(GO) test -run '^$$' -bench . -benchtime 1x $(SIMD_PKGS)

clean:
	rm -rf bin
