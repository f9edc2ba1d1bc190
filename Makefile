# The two commands a newcomer needs: `make run` and `make test`.
# (`go run ./cmd/usersvc` and `scripts/test` are what they run.)
# `make systemtest` (scripts/systemtest) runs the slow tests of the built
# binary as a process; .ci/run runs both.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: run test systemtest upgradetest docscheck build lint docs-screenshot screenshots loadtest
run:
	go run ./cmd/usersvc

test:
	scripts/test

systemtest:
	scripts/systemtest

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/usersvc ./cmd/usersvc

# The upgrade tests (internal/upgradetest, about a minute): the previous
# release (newest v* tag reachable from HEAD, else .ci/previous-release)
# built from git and run on the current schema, after each new migration;
# both versions on one database; migrate down back to it; replicas starting
# together. PostgreSQL as for make test (scripts/find-postgres).
upgradetest:
	scripts/upgradetest

# Every relative link (and #anchor) and path in README.md and docs/ exists,
# and the README's configuration table lists exactly the variables the code
# reads (internal/docscheck; `make test` runs it too).
docscheck:
	go test -count=1 -run TestRepositoryDocs ./internal/docscheck

lint:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...

# Regenerates docs/api-docs.png from the running docs page (needs chromium).
docs-screenshot:
	USERSVC_DOCS_SCREENSHOT=$(CURDIR)/docs/api-docs.png go test -count=1 -run TestDocsPageRendersInABrowser ./internal/systemtest

# Regenerates docs/pages/<page>-desktop.png and <page>-phone.png (1280 and
# 360 px wide) from the hosted pages in headless Chromium (needs chromium).
screenshots:
	USERSVC_SCREENSHOTS=$(CURDIR)/docs/pages go test -count=1 -run '^TestEveryPage$$' ./internal/web/browsertest

# The load test of docs/benchmarks.md (about 9 minutes; LOADTEST_ARGS=--quick
# for a smoke run). Needs wrk (apt-get install wrk) and the local PostgreSQL.
loadtest:
	bench/loadtest $(LOADTEST_ARGS)
