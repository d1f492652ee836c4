# Astro Plane — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
TEMPORAL_CLI_VERSION := v1.5.1
REDOCLY := tools/lint/node_modules/.bin/redocly
BIN := $(CURDIR)/bin
GOLANGCI_LINT_VERSION := v2.15.0
# The version is in the name, so changing it installs the new one.
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk -f scripts/help.awk $(MAKEFILE_LIST)

.PHONY: run
run: $(BIN)/temporal $(BIN)/etcd $(BIN)/kube-apiserver ## Start the whole stack (Temporal dev server + Web UI, worker, API on SQLite, simulated cloud with a real Kubernetes API for apps); Ctrl-C stops it.
	@scripts/run.sh --check-ports
	@$(MAKE) --no-print-directory build
	@scripts/run.sh

.PHONY: test
test: $(BIN)/temporal postgres chromium ## Run every test: unit, store on SQLite and PostgreSQL, workflows, integration against a real Temporal dev server, the approval page in headless Chromium.
	ASTRO_TEST_SKIP_INTEGRATION= ASTRO_TEMPORAL_CLI=$(BIN)/temporal $(GO) test -count=1 -p 1 -timeout 20m ./...

GREMLINS_VERSION := v0.6.0
GREMLINS := $(BIN)/gremlins-$(GREMLINS_VERSION)/gremlins
PKGS ?=

.PHONY: mutation
mutation: $(GREMLINS) ## Mutation-test the packages of .mutation-floors (or PKGS="./approval ./secrets", or those changed since MUTATION_BASE); prints each kill rate, fails below a floor.
	@GREMLINS=$(GREMLINS) scripts/mutation.sh $(PKGS)

$(GREMLINS):
	GOBIN=$(dir $@) $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)

.PHONY: bench
bench: build $(BIN)/temporal postgres ## Benchmark the API against the raw Temporal SDK on make run's dev server, on SQLite and PostgreSQL, in rounds; writes bench/out/results.{json,md}, appends to bench/history.tsv.
	$(GO) run ./bench -temporal $(BIN)/temporal -worker $(BIN)/worker

.PHONY: scaleout
scaleout: build $(BIN)/temporal-server $(BIN)/temporal-sql-tool postgres ## Scale out under fire: 2 APIs and 3 workers on one Temporal server (on PostgreSQL) and one PostgreSQL, 1,000 concurrent operations, one API and one worker SIGKILLed midway; prints the figures, fails on any lost operation or a worker over 300 MB (SCALEOUT_FLAGS="-ops 200" to vary).
	$(GO) run ./scaleout $(SCALEOUT_FLAGS)

# The Temporal server (all services in one process) and its SQL schema tool, built
# from go.temporal.io/server in a wrapper module of their own (hack/temporal, never
# the project's go.mod: the server's dependencies stay out of ours); rebuilt only when
# that go.mod changes. The version is the one the CLI's dev server and
# docker-compose's image run (1.29.1).
# make test runs a small scale-out (scaleout.TestScaleOutSmoke, 20–40 s) on them.
tools test: $(BIN)/temporal-server $(BIN)/temporal-sql-tool

$(BIN)/temporal-server: hack/temporal/go.mod hack/temporal/go.sum
	@echo "Building the Temporal server into bin/ from hack/temporal (a few minutes the first time)…"
	cd hack/temporal && $(GO) build -trimpath -o $@ go.temporal.io/server/cmd/server

$(BIN)/temporal-sql-tool: hack/temporal/go.mod hack/temporal/go.sum
	cd hack/temporal && $(GO) build -trimpath -o $@ go.temporal.io/server/cmd/tools/sql

.PHONY: chaos
chaos: $(BIN)/temporal postgres ## Chaos suite: 100 mixed operations while the worker is SIGKILLed every 10 s and the API, Temporal and PostgreSQL are restarted in turn; prints the figures, fails on any operation lost or run twice, duplicate or leftover cloud resource, or cluster left mid-operation (a few minutes; make test runs an 18-operation variant).
	ASTRO_CHAOS=full ASTRO_TEST_SKIP_INTEGRATION= ASTRO_TEMPORAL_CLI=$(BIN)/temporal $(GO) test -count=1 -v -timeout 30m -run '^TestChaos$$' ./chaos/

.PHONY: build
build: ## Build the api and worker binaries into bin/ (and motoproxy for ASTRO_AWS=moto, devkube for make run's Kubernetes, astro-agent for registered clusters).
	$(GO) build -o $(BIN)/api ./cmd/api
	$(GO) build -o $(BIN)/worker ./cmd/worker
	$(GO) build -o $(BIN)/motoproxy ./hack/motoproxy
	$(GO) build -o $(BIN)/devkube ./cmd/devkube
	CGO_ENABLED=0 $(GO) build -o $(BIN)/astro-agent ./cmd/agent

.PHONY: tools
tools: $(BIN)/temporal postgres chromium ## Install what run and test need (Temporal CLI, PostgreSQL, Chromium; etcd, kube-apiserver and helm built from hack/).

$(BIN)/temporal:
	@echo "Installing the Temporal CLI $(TEMPORAL_CLI_VERSION) into bin/ (a few minutes the first time)…"
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

.PHONY: postgres
postgres: ## Make sure PostgreSQL server binaries are installed (the tests start their own server).
	@scripts/ensure-postgres.sh

.PHONY: chromium
chromium: ## Make sure Debian's Chromium is installed (the approval page is tested in it).
	@scripts/ensure-chromium.sh

.PHONY: lint
lint: $(GOLANGCI_LINT) $(REDOCLY) ## gofmt, go vet, golangci-lint (.golangci.yml), workflowcheck (workflow determinism), and the OpenAPI linter on openapi.yaml.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/...
	$(REDOCLY) lint openapi.yaml

$(GOLANGCI_LINT):
	@echo "Installing golangci-lint $(GOLANGCI_LINT_VERSION) into bin/ (a few minutes the first time)…"
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

$(REDOCLY): tools/lint/package.json
	npm ci --prefix tools/lint --no-audit --no-fund

.PHONY: generate
generate: ## Regenerate server/api and astroctl's client (cmd/astroctl/internal/apiclient) from openapi.yaml.
	$(GO) generate ./server/api/... ./cmd/astroctl/internal/apiclient/...

.PHONY: catalog
catalog: ## Regenerate the catalog's machine-type and region tables (catalog/zz_*_gen.go) from the committed sources in catalog/gen/sources (no network).
	$(GO) run ./catalog/gen

# RELEASE names the folder a recording goes into, workflows/testdata/$(RELEASE) (the
# date by default: make record-histories RELEASE=v1.4.0). Histories are never deleted
# nor re-recorded: a workflow started on any earlier release may still be running, and
# make test replays every folder (and checks them against workflows/testdata/SHA256SUMS).
RELEASE ?= $(shell date -u +%Y-%m-%d)
HISTORIES := workflows/testdata/$(RELEASE)
# The integration tests that record a history where they run an operation to its end:
# deploys (plain, failed and rolled back, cancelled, left-behind rollbacks), approval
# gates (approved, rejected, expired, cancelled while waiting), updates (done,
# cancelled) and deletes, kubeconfigs and AWS, GCP and Azure connections (connected, past their
# deadline), applications (deploy, resync, delete; from a private repository) and a live catalog look-up; and, in
# workflows, every path of the three workflows with stub activities (each step failing, cancels, every gate outcome).
RECORD_TESTS := TestRecordEveryPath|TestClusterLifecycleThroughTheRealAPI|TestCancelAndFailureRollBack|TestDecisionsCheckTheApproverWhenTaken|TestApprovalExpiresWhenThePolicySays|TestApprovalByEmailAndSlack|TestUpdateAnswersAsDocumented|TestProgressShowsWhatARollbackLeftBehind|TestApprovalCancelledWhileWaiting|TestKubeconfigIsHandedToWhoAskedOnly|TestAWSConnectionAndVaultThroughTheAPI|TestGCPConnectionThroughTheAPI|TestAzureConnectionThroughTheAPI|TestApplicationsThroughTheAPI|TestDeployChecksTheLiveCatalog|TestRegisteredClusterThroughTheAPI|TestPrivateRepositoryCredential

.PHONY: record-histories
record-histories: $(BIN)/temporal chromium ## Record this release's workflow histories into a new folder, workflows/testdata/$(RELEASE) (date by default); replaces nothing.
	@test ! -e $(HISTORIES) || { echo "$(HISTORIES) exists: recorded histories are never replaced; record into another folder with RELEASE=<name>"; exit 1; }
	rm -rf $(HISTORIES).tmp && mkdir -p $(HISTORIES).tmp
	ASTRO_TEST_SKIP_INTEGRATION= ASTRO_RECORD_HISTORIES=$(CURDIR)/$(HISTORIES).tmp ASTRO_TEMPORAL_CLI=$(BIN)/temporal \
		$(GO) test -count=1 -p 1 -timeout 20m -run '^($(RECORD_TESTS))$$' ./workflows/ ./server/... ./activities/
	mv $(HISTORIES).tmp $(HISTORIES)
	cd workflows/testdata && sha256sum $(RELEASE)/*.json >> SHA256SUMS
	$(GO) test -count=1 -run 'TestReplayRecordedHistories|TestRecordedHistoriesAreKept' ./workflows/
	@echo "Recorded $$(ls $(HISTORIES) | wc -l) histories into $(HISTORIES); commit the folder and workflows/testdata/SHA256SUMS."

.PHONY: clean
clean: ## Remove binaries and local state (.data: the SQLite store and Temporal's database).
	rm -rf bin/api bin/worker .data

# A real Kubernetes API server (etcd + kube-apiserver) and helm for the tests of
# internal/testkube and deploy/ (the Helm chart is linted, rendered and applied with a
# server-side dry-run). Each is built from Go modules in a wrapper module of its own
# under hack/ (never the project's go.mod), and rebuilt only when that go.mod changes;
# the first kube-apiserver build takes about 6 minutes on 2 cores.
KUBE_TOOLS := $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/helm
tools test: $(KUBE_TOOLS)

$(BIN)/etcd: hack/kube/etcd/go.mod hack/kube/etcd/go.sum
	@echo "Building etcd into bin/ from hack/kube/etcd (about a minute the first time)…"
	cd hack/kube/etcd && $(GO) build -trimpath -ldflags "-s -w" -o $@ go.etcd.io/etcd/server/v3

$(BIN)/kube-apiserver: hack/kube/apiserver/go.mod hack/kube/apiserver/go.sum
	@echo "Building kube-apiserver into bin/ from hack/kube/apiserver (about 6 minutes the first time)…"
	cd hack/kube/apiserver && v=$$($(GO) list -m -f '{{.Version}}' k8s.io/kubernetes) && \
	minor=$$(echo $$v | cut -d. -f2) && \
	$(GO) build -trimpath -o $@ \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$$minor" \
		k8s.io/kubernetes/cmd/kube-apiserver

$(BIN)/helm: hack/helm/go.mod hack/helm/go.sum
	@echo "Building helm into bin/ from hack/helm (a few minutes the first time)…"
	@# As helm's own Makefile does: its version, and the Kubernetes version it renders
	@# for by default (from client-go's: v0.37 is Kubernetes 1.37).
	cd hack/helm && v=$$($(GO) list -m -f '{{.Version}}' helm.sh/helm/v3) && \
	minor=$$($(GO) list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2) && \
	$(GO) build -trimpath -o $@ \
		-ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$$v $(foreach p,chartutil lint/rules,-X helm.sh/helm/v3/pkg/$(p).k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$(p).k8sVersionMinor=$$minor)" \
		helm.sh/helm/v3/cmd/helm
