# chatvault: the two commands of the README, and the benchmark.
GO ?= go

.PHONY: run test bench

# Seal the sample day into ./archive on the embedded default (a local folder).
run:
	$(GO) run ./cmd/chatvault run --date 2026-11-22

# Every test, with the race detector. Installs what the tests need: the S3 tests run
# against a real MinIO, which scripts/minio.sh builds once (about two minutes) and caches
# outside the repository.
test:
	$(GO) vet ./...
	minio="$$(scripts/minio.sh)" && CHATVAULT_MINIO="$$minio" $(GO) test -race -count=1 ./...

# Generate 1M and 4M events, seal them, and print the table of the README's performance
# section (needs GNU time and jq).
bench:
	scripts/bench.sh
