# mcpconform — the two commands of the README are `make run` and `make test`.
GO      ?= go
FUZZTIME ?= 5s

.PHONY: run test build vet lint fuzz bench clean

build:
	$(GO) build -o bin/mcpconform ./cmd/mcpconform

# A real conformance run against the built-in reference proxy; exit 0.
run: build
	./bin/mcpconform run --proxy builtin:reference --out out/

# The whole test suite, including the self-validation matrix and a short
# bounded fuzz run of each fuzz target. .ci/run calls exactly this.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# Each fuzz target for FUZZTIME (longer: make fuzz FUZZTIME=5m).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchtime=3x ./...

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2026.2.2 ./...

vet:
	$(GO) vet ./...

clean:
	rm -rf bin out
