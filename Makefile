# chatvault: the two commands of the README, and the benchmark.
GO ?= go

.PHONY: run test bench loadbench

# Seal the sample day into ./archive on the embedded default (a local folder).
run:
	$(GO) run ./cmd/chatvault run --date 2026-11-22

# Every test, with the race detector. Installs what the tests need.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# Generate 1M and 4M events, seal them, and print the table of the README's performance
# section (needs GNU time and jq).
bench:
	scripts/bench.sh

# 32 clients download a 10 MB and a 100 MB day from `chatvault serve` on loopback; prints
# throughput, p50/p99 latency and the server's peak RSS (Linux).
loadbench:
	scripts/loadbench.sh
