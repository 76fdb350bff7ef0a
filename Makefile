# mcpconform — the two commands of the README are `make run` and `make test`.
GO      ?= go
# An execution count, not a duration: with a duration Go's fuzzer now and
# then reports "context deadline exceeded" when time runs out mid-input,
# failing CI without a crasher. 40000x takes 1.5-5 s per target here.
# Longer runs: make fuzz FUZZTIME=5m
FUZZTIME ?= 40000x

.PHONY: run test build vet lint fuzz bench clean

# Whether the browser checks can run: the names browserprobe.Find looks for.
BROWSER_CHECK = (test -x "$$MCPCONFORM_BROWSER_PATH" || command -v chromium || command -v chromium-browser || command -v google-chrome || command -v google-chrome-stable || command -v chrome) >/dev/null 2>&1

build:
	$(GO) build -o bin/mcpconform ./cmd/mcpconform

# A real conformance run against the built-in reference proxy; exit 0.
run: build
	./bin/mcpconform run --proxy builtin:reference --out out/

# The whole test suite, including the self-validation matrix and a short
# bounded fuzz run of each fuzz target. .ci/run calls exactly this.
test:
	$(GO) vet ./...
	@$(BROWSER_CHECK) || echo "make test: no Chromium found: the browser checks (--browser) will be SKIPPED; apt-get install chromium, or set MCPCONFORM_BROWSER_PATH"
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)
	$(MAKE) --no-print-directory lint-action

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

# The SSE detection figures (README "Detection figures"): DETECTN trials of
# the incremental check per injected delay and per load; about 1 s a trial.
DETECTN ?= 10
.PHONY: bench-detect
bench-detect:
	$(GO) test -run='^$$' -bench='^BenchmarkSSE(Detection|FalseAlarm)$$' -benchtime=$(DETECTN)x -timeout 30m ./scenarios/

# actionlint on a workflow that uses the action from this checkout (the
# README's CI example): it checks the workflow and, through `uses: ./`, the
# inputs against action.yml. actionlint only resolves a local action inside a
# project with .github/workflows, so both are copied into a scratch one.
# Skipped with a message when actionlint cannot be fetched.
ACTIONLINT ?= github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
.PHONY: lint-action
lint-action:
	@if ! $(GO) run $(ACTIONLINT) -version >/dev/null 2>&1; then \
	  echo "lint-action: actionlint not available ($(GO) run $(ACTIONLINT) failed); skipped"; exit 0; fi; \
	d=$$(mktemp -d); mkdir -p $$d/.git $$d/.github/workflows; \
	cp action.yml $$d/; cp cmd/mcpconform/testdata/action-workflow.yml $$d/.github/workflows/; \
	(cd $$d && $(GO) run $(ACTIONLINT)); status=$$?; rm -rf $$d; \
	if [ $$status -eq 0 ]; then echo "lint-action: action.yml and the example workflow pass actionlint"; fi; exit $$status

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

vet:
	$(GO) vet ./...

clean:
	rm -rf bin out

# Conformance runs against real proxies (profiles/*.yml), each only when its
# binary is installed; then one side-by-side HTML page. A third-party proxy
# failing cases is information, not a broken build: only harness or launch
# errors (exit 2 or 3) fail this target.
.PHONY: peers
PEERS ?= nginx-default nginx-unbuffered caddy
peers: build
	@status=0; ran=""; \
	for p in $(PEERS); do \
	  bin=$${p%%-*}; \
	  if ! command -v $$bin >/dev/null 2>&1; then echo "peers: $$bin not installed, skipping $$p"; continue; fi; \
	  echo "== $$p"; \
	  ./bin/mcpconform run --profile profiles/$$p.yml --upstream 127.0.0.1:0 --out out/peers/$$p; code=$$?; \
	  if [ $$code -ge 2 ]; then status=1; fi; \
	  ran="$$ran out/peers/$$p/results.json"; \
	done; \
	if [ -n "$$ran" ]; then ./bin/mcpconform report $$ran --html out/peers/index.html && echo "side by side: out/peers/index.html"; fi; \
	exit $$status
