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
	zoho-sim=./connector/zoho/cmd/zoho-sim \
	roger365-sim=./connector/roger365/cmd/roger365-sim \
	replicator=./host/cmd/replicator

.PHONY: build test bench demo clean

build:
	@mkdir -p $(BIN)
	@for p in $(PLUGINS); do \
		name=$${p%%=*}; pkg=$${p#*=}; \
		$(GO) build -trimpath -o $(BIN)/$$name $$pkg || exit 1; \
	done

test: build
	$(GO) vet ./...
	REPLICATOR_BIN=$(BIN) $(GO) test -race -timeout 12m ./...

bench: build
	REPLICATOR_BIN=$(BIN) $(GO) run ./internal/bench

demo: build
	$(GO) run ./internal/demo

clean:
	rm -rf $(BIN) .demo
