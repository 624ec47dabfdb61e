# midge — common tasks. `make run` and `make test` are all a fresh machine
# with Go needs (see README.md).

GO       ?= go
BIN      := bin
FUZZTIME ?= 10s
# Every fuzz target as package:Target; `make fuzz` runs each for FUZZTIME.
FUZZ_TARGETS := ./parser:FuzzParse ./parser:FuzzHeaders ./sublist:FuzzValidSubject ./sublist:FuzzMatch \
	./broker:FuzzConnect ./broker:FuzzClientSession ./broker:FuzzConfig ./jsapi:FuzzJetStreamAPI ./jsapi:FuzzJetStreamWire ./jetstore:FuzzDecodeRecord \
	./mqtt:FuzzDecode ./mqtt:FuzzTopic ./mqttgw:FuzzMQTTConnection ./config/conffile:FuzzParse ./cluster/route:FuzzParser \
	./cluster/multiraft:FuzzDecodeFrame ./cluster/multiraft:FuzzDecodeRecord ./cluster/multiraft:FuzzDecodeSnapshot ./kafka:FuzzRequest

SOAK_ROUNDS ?= 50
# Seeds per simulation test in `make soak-cluster` (the default run uses a few).
SIM_SEEDS ?= 500
# Rounds of partitions of the in-process R3 key-value test (~20 s each;
# the default run does one).
PARTITION_ROUNDS ?= 3

.PHONY: build run test lint fuzz fuzz-short bench soak soak-cluster clean

build:
	$(GO) build -o $(BIN)/midge ./cmd/midge

run: build
	./$(BIN)/midge -a 127.0.0.1 -p 4222 -m 8222 -js -sd ./data

# The test command CI runs: formatting, vet, the race-enabled suite and a
# short fuzz of the parser.
test: lint
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz-short

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./parser

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./parser ./sublist ./broker ./jetstore ./kafka

# Longer crash runs: SIGKILL a real midge SOAK_ROUNDS times mid-publish, and
# as many simulated power cuts (store on a loop-mounted ext4 image; needs
# root, skipped otherwise), of a single server and of one server of an R3
# cluster; the R3 chaos test with 2,000×SOAK_ROUNDS publishes and a kill or
# pause every 1,500.
soak:
	MIDGE_SOAK_ROUNDS=$(SOAK_ROUNDS) $(GO) test -count=1 -timeout 60m -run 'Crash|PowerLoss|PowerCut|Chaos' -v ./cmd/midge

# Many more random schedules of the replication simulation (crashes that
# lose unsynced writes, partitions, fsync failures) and of the KV
# linearizability check. A failing seed replays alone with
# MULTIRAFT_SIM_SEED=N. Then more rounds of real partitions (through
# internal/faultproxy) under three in-process servers' R3 key-value bucket,
# and 1,000 idle R3 streams on three processes (traffic and memory).
soak-cluster:
	MULTIRAFT_SIM_SEEDS=$(SIM_SEEDS) $(GO) test -count=1 -timeout 120m -run 'TestSimulationSafety|TestSimulatedKVIsLinearizable' ./cluster/multiraft
	MIDGE_PARTITION_ROUNDS=$(PARTITION_ROUNDS) $(GO) test -race -count=1 -timeout 30m -run 'TestR3KeyValueLinearizableUnderPartitions' -v ./cluster/jscluster
	MIDGE_IDLE_STREAMS=1000 $(GO) test -count=1 -timeout 60m -v -run TestIdleR3StreamTrafficDoesNotGrowWithStreams ./cmd/midge

clean:
	rm -rf $(BIN)
