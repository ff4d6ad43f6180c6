# chatvault: the two commands of the README, and the benchmark.
GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test docs fuzz reliability bench loadbench exportbench scalebench

# Seal the sample day into ./archive on the embedded default (a local folder). The sample
# holds nine bad records on purpose, so chatvault exits 3 (sealed, with records
# quarantined); make treats that as the expected outcome.
run:
	@$(GO) build -ldflags "$(LDFLAGS)" -o bin/chatvault ./cmd/chatvault && bin/chatvault run --date 2026-11-22; code=$$?; \
	if [ $$code -eq 3 ]; then echo "exit 3: sealed; the sample's bad records were quarantined, as intended"; exit 0; fi; \
	exit $$code

# Every test, with the race detector, after go vet and staticcheck. Installs what the tests
# need: -race builds with cgo, so scripts/cc.sh installs gcc when there is no C compiler
# (and CGO_ENABLED=1 overrides a CGO_ENABLED=0 left in the environment, which made every
# -race build fail with "-race requires cgo" after vet and staticcheck had run);
# the S3 tests run against a real MinIO, which scripts/minio.sh builds once (about
# four minutes) and caches outside the repository; the HTML export's browser test renders
# pages in Debian's headless chromium, which scripts/chromium.sh installs when missing, and
# its validator test checks pages with the W3C Nu HTML checker (the vnu-jar npm package and a
# Java runtime), which scripts/vnu.sh installs when missing. The
# reliability tests record what they showed; the README's reliability table must match
# it. The alert rules are checked and unit-tested with promtool (Debian's prometheus
# package, which scripts/promtool.sh installs when missing). The deploy/ files are checked
# with the operators' tools: the systemd units with systemd-analyze (Debian's systemd
# package, which scripts/systemd-analyze.sh installs when missing), the Dockerfile by
# running its build steps, the S3 examples against MinIO, and the Kubernetes manifests by
# the separate module in deploy/kubernetes (Kubernetes' Go types, kept out of go.mod). Then
# every fuzz target runs for FUZZTIME (10000 executions) each.
test:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd deploy/kubernetes && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	promtool="$$(scripts/promtool.sh)" && "$$promtool" check rules deploy/prometheus/*-alerts.yaml && \
	"$$promtool" test rules deploy/prometheus/*_test.yaml
	rows="$$(mktemp -d)" && cc="$$(GO=$(GO) scripts/cc.sh)" && minio="$$(scripts/minio.sh)" && chromium="$$(scripts/chromium.sh)" && vnu="$$(scripts/vnu.sh)" && systemd="$$(scripts/systemd-analyze.sh)" && \
	CGO_ENABLED=1 CC="$$cc" CHATVAULT_MINIO="$$minio" CHATVAULT_CHROMIUM="$$chromium" CHATVAULT_VNU="$$vnu" CHATVAULT_SYSTEMD_ANALYZE="$$systemd" CHATVAULT_RELIABILITY_OUT="$$rows" $(GO) test -race -count=1 -timeout 25m ./... && \
	(cd deploy/kubernetes && CGO_ENABLED=1 CC="$$cc" CHATVAULT_MINIO="$$minio" CHATVAULT_RELIABILITY_OUT="$$rows" $(GO) test -race -count=1 -timeout 25m ./...) && \
	$(GO) run ./internal/reliability/cmd/reltable -rows "$$rows" -check; code=$$?; rm -rf "$$rows"; exit $$code
	GO=$(GO) scripts/fuzz.sh

# Rewrite docs/cli.md, the CLI reference, from the commands (cobra/doc); TestCLIReference,
# part of make test, fails with a diff while the checked-in file differs from the code.
docs:
	$(GO) test ./cmd/chatvault -run '^TestCLIReference$$' -count=1 -update

# Every Fuzz* target of the module, FUZZTIME (default 10000x, an execution count) each: FUZZTIME=2000000x make fuzz.
fuzz:
	GO=$(GO) scripts/fuzz.sh

# Rerun the reliability tests and rewrite the README's reliability table from their rows.
reliability:
	rows="$$(mktemp -d)" && minio="$$(scripts/minio.sh)" && chromium="$$(scripts/chromium.sh)" && vnu="$$(scripts/vnu.sh)" && systemd="$$(scripts/systemd-analyze.sh)" && \
	CHATVAULT_MINIO="$$minio" CHATVAULT_CHROMIUM="$$chromium" CHATVAULT_VNU="$$vnu" CHATVAULT_SYSTEMD_ANALYZE="$$systemd" CHATVAULT_RELIABILITY_OUT="$$rows" $(GO) test -count=1 -timeout 25m ./... && \
	(cd deploy/kubernetes && CHATVAULT_MINIO="$$minio" CHATVAULT_RELIABILITY_OUT="$$rows" $(GO) test -count=1 -timeout 25m ./...) && \
	$(GO) run ./internal/reliability/cmd/reltable -rows "$$rows"; code=$$?; rm -rf "$$rows"; exit $$code

# Generate 1M and 4M events, seal them, and print the table of the README's performance
# section (needs GNU time and jq).
bench:
	scripts/bench.sh

# 32 clients download a 10 MB and a 100 MB day from `chatvault serve` on loopback; prints
# throughput, p50/p99 latency and the server's peak RSS (Linux).
loadbench:
	scripts/loadbench.sh

# Export a 30-day range of 3,000,000 generated events with chatvault export-task, per
# format (jsonl rsmf by default); prints wall time, CPU, peak RSS and output size.
exportbench:
	scripts/exportbench.sh

# How the cost grows with organizations and stored days (the README's Scale section): the
# CLI of one binary (SCALEBENCH_BIN, default a build of ./cmd/chatvault) on generated
# data, folder store and a loopback MinIO; prints what | value | growth law.
scalebench:
	@scripts/scalebench.sh
