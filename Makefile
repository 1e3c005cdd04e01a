# Every binary lands in ./bin: the host, the connector plugins and the
# service simulators.
GO      ?= go
BIN     := $(CURDIR)/bin
PLUGINS := \
	replicator-source-generator=./connector/generator/cmd/replicator-source-generator \
	replicator-destination-jsonl=./connector/jsonl/cmd/replicator-destination-jsonl \
	replicator-source-zoho=./connector/zoho/cmd/replicator-source-zoho \
	replicator-destination-roger365=./connector/roger365/cmd/replicator-destination-roger365 \
	replicator-source-csvcontacts=./connector/csvcontacts/cmd/replicator-source-csvcontacts \
	replicator-source-httpcontacts=./connector/httpcontacts/cmd/replicator-source-httpcontacts \
	zoho-sim=./connector/zoho/cmd/zoho-sim \
	roger365-sim=./connector/roger365/cmd/roger365-sim \
	replicator=./host/cmd/replicator

# The checks' tools, at pinned versions, built from source with
# `go install`. Each version has a folder of its own outside the work tree,
# so clones share them and a version bump installs the new one.
TOOLS ?= $(shell $(GO) env GOPATH)/replicator-tools
GOLANGCI_LINT_VERSION      := v2.15.0
BUF_VERSION                := v1.75.0
# The code generators must be the versions named in the headers of
# plugin/internal/wirev1/*.pb.go, or the regenerated code differs.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

GOLANGCI_LINT      := $(TOOLS)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
BUF                := $(TOOLS)/buf-$(BUF_VERSION)/buf
PROTOC_GEN_GO      := $(TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION)/protoc-gen-go
PROTOC_GEN_GO_GRPC := $(TOOLS)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)/protoc-gen-go-grpc
# buf generate finds the code generators named in buf.gen.yaml on PATH.
GENPATH            := $(dir $(PROTOC_GEN_GO)):$(dir $(PROTOC_GEN_GO_GRPC)):$(PATH)

# The protocol's module and the descriptor of the released protocol that
# buf breaking compares it with.
WIRE          := plugin/internal/wirev1
WIRE_RELEASED := $(WIRE)/released.json

GOFMT := $(shell $(GO) env GOROOT)/bin/gofmt

# The shipped alert rules are checked and tested with Prometheus's
# promtool, from Debian's prometheus package; the metrics tests run it too.
PROMTOOL ?= promtool
export PROMTOOL
MONITORING := monitoring

.PHONY: build test check vet fmt-check tidy-check lint proto-check rules-check generate tools fuzz bench demo console clean

build:
	@mkdir -p $(BIN)
	@for p in $(PLUGINS); do \
		name=$${p%%=*}; pkg=$${p#*=}; \
		$(GO) build -trimpath -o $(BIN)/$$name $$pkg || exit 1; \
	done

# .ci/needs checks in seconds, before anything is built, for what the tests
# need beyond Go, installs what it can and otherwise stops with the command
# to run. The gates' tools that are missing are built next, side by side:
# one's download or link overlaps another's compiling.
test:
	@GO=$(GO) .ci/needs $(GOLANGCI_LINT) $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC)
	@$(MAKE) --no-print-directory -j4 --output-sync=target tools
	@$(MAKE) --no-print-directory build check
	REPLICATOR_BIN=$(BIN) $(GO) test -race -timeout 12m ./...

# The gates before the tests; each says what to run to fix what it finds.
check: vet fmt-check tidy-check lint proto-check rules-check

# -trimpath as in build, so that vet finds the packages build compiled in
# the build cache rather than compiling them all again.
vet:
	$(GO) vet -trimpath ./...

fmt-check:
	@out=$$($(GOFMT) -l .); if [ -n "$$out" ]; then \
		echo "These files are not gofmt-formatted; run gofmt -w on them:"; echo "$$out"; exit 1; fi

tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy; run go mod tidy"; exit 1; }

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

# buf lint and buf breaking check the protocol, and the generated code must
# be what the pinned generators make of it.
proto-check: $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC)
	$(BUF) lint
	$(BUF) breaking --against $(WIRE_RELEASED)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	PATH="$(GENPATH)" $(BUF) generate -o "$$tmp" && \
	for f in "$$tmp"/$(WIRE)/*.go; do \
		diff -u $(WIRE)/$${f##*/} "$$f" || { echo "$(WIRE)/$${f##*/} is not what buf generate makes of the .proto; run make generate"; exit 1; }; \
	done

# promtool checks the alert rules and runs their tests.
rules-check:
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool is missing: install Debian's prometheus package (sudo apt-get install -y prometheus; .ci/run does), or set PROMTOOL"; exit 1; }
	$(PROMTOOL) check rules $(MONITORING)/alerts.yml
	$(PROMTOOL) test rules $(MONITORING)/alerts_test.yml

# Regenerates the protocol's Go code after a change to the .proto.
generate: $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC)
	PATH="$(GENPATH)" $(BUF) generate

tools: $(GOLANGCI_LINT) $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC)

$(GOLANGCI_LINT):
	GOBIN=$(@D) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
$(BUF):
	GOBIN=$(@D) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(PROTOC_GEN_GO):
	GOBIN=$(@D) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(PROTOC_GEN_GO_GRPC):
	GOBIN=$(@D) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# Runs every fuzz test for FUZZTIME each, whatever the others do, then
# prints one line per target, ok or FAIL, and fails if any failed. A
# failing input is saved under the package's testdata/fuzz, where it
# becomes a seed. `make test` runs only the seeds.
FUZZTIME ?= 1m
fuzz:
	@failed=0; summary=""; \
	for pkg in $$($(GO) list ./...); do \
		if ! list=$$($(GO) test -list '^Fuzz' $$pkg); then \
			echo "$$list"; failed=1; summary="$$summary\nFAIL  $$pkg (its tests do not build)"; continue; \
		fi; \
		for f in $$(echo "$$list" | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			if $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; then r="ok  "; else r=FAIL; failed=1; fi; \
			summary="$$summary\n$$r  $$pkg $$f"; \
		done; \
	done; \
	printf '\nfuzz targets, %s each:%b\n' $(FUZZTIME) "$$summary"; \
	exit $$failed

bench: build
	REPLICATOR_BIN=$(BIN) $(GO) run ./internal/bench

demo: build
	$(GO) run ./internal/demo

# The simulators and `replicator run` with its console on 127.0.0.1:8080,
# for a person to try Authorize and Sync now in a browser.
console: build
	$(GO) run ./internal/demo -console

clean:
	rm -rf $(BIN) .demo
