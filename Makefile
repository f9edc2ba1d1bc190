# The two commands a newcomer needs: `make run` and `make test`.
# (`go run ./cmd/usersvc` and `scripts/test` are what they run.)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: run test build lint docs-screenshot loadtest
run:
	go run ./cmd/usersvc

test:
	scripts/test

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/usersvc ./cmd/usersvc

lint:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...

# Regenerates docs/api-docs.png from the running docs page (needs chromium).
docs-screenshot:
	USERSVC_DOCS_SCREENSHOT=$(CURDIR)/docs/api-docs.png go test -count=1 -run TestDocsPageRendersInABrowser ./cmd/usersvc

# The load test of docs/benchmarks.md (about 9 minutes; LOADTEST_ARGS=--quick
# for a smoke run). Needs wrk (apt-get install wrk) and the local PostgreSQL.
loadtest:
	bench/loadtest $(LOADTEST_ARGS)
