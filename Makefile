# gitops-platform: run it (make up), test it (make test).
STACKS         := dev staging prod
HUB_STACK      := dev
REVERSE_STACKS := prod staging dev
# One stack only: make preview STACK=staging
STACK          ?=
RENDER_DIR     ?= render
FUZZTIME       ?= 3m

selected = $(if $(STACK),$(STACK),$(STACKS))

APP_DIR        ?= $(RENDER_DIR)/app-test
# Tools the tests run, built from the Go module proxy into ./bin.
KUSTOMIZE_VERSION := v5.7.1

# The local file backend `make up` keeps each stack's state in (~/.pulumi);
# preview, up, argocd, grafana and destroy all use it.
PULUMI_LOCAL   := pulumi login --local >/dev/null

.PHONY: help test app-test tier-tools apiserver-test live-test live-bench tools render policy preview up down destroy argocd grafana preflight lab fuzz bench

.DEFAULT_GOAL := help

## help: list the targets (plain `make` runs nothing else)
help:
	@echo "gitops-platform: make <target>   (STACK=<stack> for one stack)"
	@sed -n 's/^## \([a-z-]*\): /  \1\t/p' $(MAKEFILE_LIST) | expand -t 20

## test: vet and run every test, the seeded app's own and the API-server tier included (what CI runs)
test: app-test tools tier-tools
	@echo "test: go vet and go test of the program (a first run compiles the Pulumi SDKs first: several minutes)"
	go vet ./...
	go test ./...
	$(MAKE) apiserver-test
	$(MAKE) live-test

## tier-tools: build the servers the tiers run (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
## kwok, Argo CD) from the Go proxy into ~/.cache/gitops-platform/apiserver-tier, a line per tool; cached after
tier-tools:
	@cd tests/apiserver && go run ./tools/build

## apiserver-test: every rendered object against a real kube-apiserver + etcd, and Argo CD's own ApplicationSet
## generator (tests/apiserver, its own module); Argo CD's RBAC enforcer, Dex and OIDC settings over the rendered
## hub (tests/apiserver/access)
apiserver-test: tools tier-tools
	@echo "apiserver-test: compiling the tier's tests (a first run compiles Argo CD's and Kubernetes' packages: minutes)"
	cd tests/apiserver && go vet ./... && go test -count=1 -timeout 30m . ./access ./tools/...

## live-test: the live delivery tier: Argo CD v3.3.5's own controllers deliver the rendered platform to three
## real API servers with kube-controller-manager, kube-scheduler and kwok (tests/apiserver/live); Redis and the
## gitops repo's SSH server run in the test process; needs git and its ssh client
live-test: tools tier-tools
	cd tests/apiserver && go vet ./live && go test -count=1 -timeout 40m ./live

## live-bench: push → dev Synced and Healthy through the webhook, on the live tier (5 pushes)
live-bench: tools
	cd tests/apiserver && go test -count=1 -timeout 40m -run '^$$' -bench PushToDevHealthy -benchtime 5x ./live

## tools: the pinned kustomize into ./bin (the tag-bump and build tests run it)
tools: bin/kustomize

bin/kustomize:
	GOBIN=$(CURDIR)/bin go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

## app-test: the seeded app's own tests (node --test), on the files the hub commits
app-test:
	rm -rf $(APP_DIR)
	go run ./cmd/render -stack dev -out $(APP_DIR) > /dev/null
	cd $(APP_DIR)/repos/tech-seminar-source && npm ci --ignore-scripts --no-audit --no-fund && npm test

## render: the offline render of each stack into $(RENDER_DIR)/<stack> (no cloud, cluster or token)
render:
	@for s in $(selected); do go run ./cmd/render -stack $$s -out $(RENDER_DIR)/$$s || exit 1; done

## policy: the policy pack (policy/) over each stack's offline render; mandatory violations fail
policy:
	@for s in $(selected); do go run ./cmd/render -stack $$s -out $(RENDER_DIR)/$$s -policy || exit 1; done

## preflight: check that what `make up` needs works: GitHub token, scopes and plan, AWS (ECR), kube contexts, Docker
preflight:
	@scripts/preflight $(selected)

## lab: the minikube lab (dev the hub, staging, prod on Kubernetes v1.33.0): staging and prod joined to dev's
## network at pinned addresses their API server certificates name, clusterServer written into the stack files
lab:
	@scripts/lab

## preview: pulumi preview of each stack, hub first, on the same local backend as make up
preview: preflight
	@echo "preview: logging in to the local file backend (pulumi login --local)"
	@$(PULUMI_LOCAL)
	@for s in $(selected); do pulumi stack select --create $$s && pulumi preview --diff --policy-pack policy --stack $$s || exit 1; done

## up: stand the platform up on the local file backend: the hub, then each environment
up: preflight
	@echo "up: logging in to the local file backend (pulumi login --local): state stays on this machine"
	@$(PULUMI_LOCAL)
	@for s in $(selected); do pulumi stack select --create $$s && pulumi up --yes --policy-pack policy --stack $$s || exit 1; done
	@echo "up: done. Open Argo CD with make argocd, Grafana with make grafana (STACK=staging for staging's)"

## argocd: open Argo CD from this laptop (port-forward; prints where and how to log in)
argocd:
	@$(PULUMI_LOCAL)
	@sh -c "$$(pulumi stack output --stack $(HUB_STACK) argocdOpen)"

## grafana: open a stack's Grafana from this laptop (STACK=dev by default)
grafana:
	@$(PULUMI_LOCAL)
	@sh -c "$$(pulumi stack output --stack $(if $(STACK),$(STACK),$(HUB_STACK)) grafanaOpen)"

## down: tear the platform down (the same as make destroy)
down: destroy

## destroy: tear down prod, staging, then the hub; refuses first if a stack holds protected resources
destroy:
	@$(PULUMI_LOCAL)
	go run ./cmd/teardown $(if $(STACK),$(STACK),$(REVERSE_STACKS))

## fuzz: fuzz the config loader for $(FUZZTIME)
fuzz:
	go test ./tests -run '^$$' -fuzz FuzzParseConfig -fuzztime $(FUZZTIME)

## bench: one full program evaluation per stack under mocks, and the policy pack over the hub
bench:
	go test ./tests -run '^$$' -bench 'Evaluate|PolicyPack' -benchmem
