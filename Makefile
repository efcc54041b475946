# connlab: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

HOST_PYTHON ?= python3
# The servers' CPython: 3.13 (with the GIL), 3.13t or 3.14t (free-threaded); image tag suffix.
PYTHON ?= 3.13
PYTHON_TAG := $(if $(filter 3.13t 3.14t,$(PYTHON)),-$(PYTHON),)
export PYTHON PYTHON_TAG
# The architectures: one table, services/connlab/designs.py.
ARCH_LIST := $(shell PYTHONPATH=services $(HOST_PYTHON) -c 'from connlab.config import ARCHITECTURES; print(*ARCHITECTURES)')
ARCH ?= single-thread
VENV := .venv
NPROC := $(shell nproc 2>/dev/null || echo 1)
# Server and load generator on different CPUs: the load generator gets the lower half,
# the server the upper half (on 2 CPUs: load generator 0, server 1).
cpu_range = $(shell [ $(1) -ge $(2) ] && echo $(1) || echo $(1)-$(2))
ifeq ($(NPROC),1)
SERVER_CPUS ?= 0
LOADGEN_CPUS ?= 0
else
SERVER_CPUS ?= $(call cpu_range,$(shell echo $$(( $(NPROC) / 2 ))),$(shell echo $$(( $(NPROC) - 1 ))))
LOADGEN_CPUS ?= $(call cpu_range,0,$(shell echo $$(( $(NPROC) / 2 - 1 ))))
endif
# One Locust worker per load generator CPU: a worker is one process, one core at most.
LOADGEN_WORKERS ?= $(shell PYTHONPATH=services $(HOST_PYTHON) -c 'from connlab.config import cpu_set; print(len(cpu_set("$(LOADGEN_CPUS)")))')
export SERVER_CPUS LOADGEN_CPUS LOADGEN_WORKERS
# The Compose v2 CLI plugin if the machine has it, else the one PyPI ships in the venv.
COMPOSE_BIN := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo "$(VENV)/bin/docker-compose")
COMPOSE = $(COMPOSE_BIN) -f compose/compose.yaml --project-directory .

.PHONY: help up down logs ps images test venv check-arch check-python check-python-run check-docker check-settings

# Prometheus and Grafana
GRAFANA_IMAGE ?= grafana/grafana:12.2.0
export GRAFANA_IMAGE
# Grafana joins `make up` only where its image is here or pullable (not on the offline route).
grafana_profile = $$(docker image inspect $(GRAFANA_IMAGE) >/dev/null 2>&1 || docker pull -q $(GRAFANA_IMAGE) >/dev/null 2>&1 && echo --profile grafana)
# The admin password: GRAFANA_ADMIN_PASSWORD if set, else one generated once, kept in build/.
grafana_password = $${GRAFANA_ADMIN_PASSWORD:-$$(cat build/grafana-admin-password)}
.PHONY: dashboards

# make up SERVER_ENGINE=<engine> SERVER_ADDRESS=<host>: the server on another machine's
# Docker engine (scripts/server-engine.sh), the rest here without it.
elsewhere = $(if $(SERVER_ENGINE),--scale $(1)=0)
server_host = $(if $(SERVER_ENGINE),$(SERVER_ADDRESS),$(ARCH))
# The server there (again, or kept); without SERVER_ENGINE, one left there by the last make up taken down.
server_engine = COMPOSE="$(COMPOSE)" scripts/server-engine.sh $(if $(SERVER_ENGINE),up,down)
.PHONY: check-engine
check-engine:
	@scripts/server-engine.sh check

dashboards: venv ## Regenerate grafana/dashboards/*.json from grafana/connlab_dashboards
	@PYTHONPATH=grafana $(VENV)/bin/python -m connlab_dashboards grafana/dashboards

# make compare writes its runs' targets here; the stack's Prometheus reads them.
build/prometheus/targets:
	@mkdir -p $@

build/grafana-admin-password:
	@mkdir -p build && (umask 077 && $(HOST_PYTHON) -c 'import secrets; print(secrets.token_urlsafe(18))' > $@)

help: ## List the targets
	@echo "connlab — make <target> [ARCH=<arch>] (architectures: $(ARCH_LIST))"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-16s %s\n", $$1, $$2}'
	@echo "CPU pinning here: SERVER_CPUS=$(SERVER_CPUS) LOADGEN_CPUS=$(LOADGEN_CPUS) LOADGEN_WORKERS=$(LOADGEN_WORKERS) (override on the command line)"

check-arch:
	@case " $(ARCH_LIST) " in *" $(ARCH) "*) ;; *) \
	  echo "connlab: ERROR: unknown ARCH '$(ARCH)'. Valid: $(ARCH_LIST)" >&2; exit 2;; esac

check-python:
	@case "$(PYTHON)" in 3.13|3.13t|3.14t) ;; *) \
	  echo "connlab: ERROR: PYTHON='$(PYTHON)' is not a server build. Valid: 3.13 (with the GIL, the default), 3.13t (free-threaded), 3.14t (free-threaded; make images and make up only)" >&2; exit 2;; esac

# 3.14t is for make images and make up so far: the tests, benchmarks, fuzz, soak and
# make compare name their server images for 3.13 and 3.13t only.
check-python-run: check-python
	@case " $(PYTHON) $(subst $(comma), ,$(PYTHONS)) $(TEST_PYTHONS) " in *" 3.14t "*) \
	  echo "connlab: ERROR: make $(or $(MAKECMDGOALS),help) does not run 3.14t yet (only make images and make up do). Use PYTHON=3.13t (PYTHONS=3.13,3.13t)." >&2; exit 2;; esac

# The server's own check of ARCH's settings (WORKERS=, DISPATCH=, ...), before make up builds anything.
check-settings: check-arch
	@ARCH=$(ARCH) PYTHONPATH=services $(HOST_PYTHON) scripts/check_settings.py

check-docker:
	@command -v docker >/dev/null || { echo "connlab: ERROR: docker is not installed. Install Docker Engine (https://docs.docker.com/engine/install/)." >&2; exit 2; }
	@docker info >/dev/null 2>&1 || { echo "connlab: ERROR: the Docker daemon is not reachable. Start it (sudo systemctl start docker) or check DOCKER_HOST." >&2; exit 2; }

# Every dependency pinned with its hashes: the .lock files, resolved by `make lock` from
# the requirements files (the images' for CPython 3.13, the host's from 3.11 up).
LOCKS := services/requirements.lock loadgen/requirements.lock requirements/test.lock $(patsubst %.txt,%.lock,$(wildcard references/*/requirements.txt))
$(VENV)/.installed: requirements/test.lock
	@echo "connlab: creating $(VENV) with $(HOST_PYTHON)"
	@$(HOST_PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/test.lock
	@touch $@

venv: $(VENV)/.installed ## Create the Python environment for tests and tools (.venv)

.PHONY: lock
lock: venv ## Resolve every dependency again, with hashes, into the .lock files (after editing a requirements file)
	@for lock in $(LOCKS); do \
	  case $$lock in requirements/*) python=3.11;; *) python=3.13;; esac; \
	  echo "connlab: resolving $${lock%.lock}.txt for CPython $$python into $$lock"; \
	  $(VENV)/bin/uv pip compile --quiet --universal --generate-hashes --python-version $$python \
	    --custom-compile-command 'make lock' $${lock%.lock}.txt -o $$lock || exit; \
	done

images: check-python check-docker ## Build every image (official bases, or the offline fallback by itself) [PYTHON=3.13t|3.14t]
	@scripts/images.sh

.PHONY: check-reference
check-reference:
	@PYTHONPATH=services:experiments $(HOST_PYTHON) scripts/reference.py --check "$(REFERENCE)"

ifdef REFERENCE
# make up REFERENCE=<name>: a reference server instead of a design (scripts/reference.py).
up: check-reference check-engine check-docker images $(if $(findstring $(VENV),$(COMPOSE_BIN)),venv) | build/grafana-admin-password build/prometheus/targets
	@set -e; vars=$$(PYTHONPATH=services:experiments $(HOST_PYTHON) scripts/reference.py "$(REFERENCE)") || exit 2; eval "$$vars"; \
	 scripts/images.sh "$$REFERENCE_FOLDER"; \
	 echo "connlab: starting $$REFERENCE_LABEL ($(REFERENCE)) on server CPUs $(SERVER_CPUS)$(if $(SERVER_ENGINE), of $(SERVER_ENGINE))"; \
	 SERVICE=reference PORT=$$REFERENCE_PORT METRICS_PORT= $(server_engine); \
	 LOADGEN_ARCH=reference GRAFANA_ADMIN_PASSWORD="$(grafana_password)" $(COMPOSE) --profile reference $(grafana_profile) up -d --wait --remove-orphans $(call elsewhere,reference) || { \
	   echo "connlab: ERROR: the stack did not come up; the last lines of the reference's log (make down stops what started):" >&2; \
	   $(COMPOSE) --profile reference logs --no-color --tail 20 reference >&2; exit 1; }; \
	 echo "connlab: $(REFERENCE) is up"; \
	 $(if $(SERVER_ENGINE),host=$(SERVER_ADDRESS); port=$$REFERENCE_PORT,host=$${BIND_ADDRESS:-127.0.0.1}; port=7010); \
	 case "$$PROTOCOL" in \
	   http) echo "  HTTP:       curl http://$$host:$$port/ping";; \
	   *) echo "  RESP:       redis-cli -h $$host -p $$port PING";; esac; \
	 echo "  Locust:     http://$${BIND_ADDRESS:-127.0.0.1}:8089 (host tcp://$$LOADGEN_HOST, protocol $$PROTOCOL, $(LOADGEN_WORKERS) worker(s) on CPUs $(LOADGEN_CPUS))"; \
	 echo "  Prometheus: http://$${BIND_ADDRESS:-127.0.0.1}:9090/targets"
else
up: check-arch check-python check-settings check-engine check-docker images $(if $(findstring $(VENV),$(COMPOSE_BIN)),venv) | build/grafana-admin-password build/prometheus/targets ## Start ARCH (default single-thread) or REFERENCE=<name>, Prometheus, node exporter (and Grafana where its image exists) [SERVER_ENGINE=ssh://user@host SERVER_ADDRESS=host: the server on that engine]
	@rm -f build/prometheus/targets/reference.json
	@echo "connlab: starting $(ARCH) on Python $(PYTHON) (server CPUs $(SERVER_CPUS)$(if $(SERVER_ENGINE), of $(SERVER_ENGINE)))"
	@SERVICE=$(ARCH) PORT=7000 METRICS_PORT=8000 $(server_engine)
	@LOADGEN_ARCH=$(ARCH) GRAFANA_ADMIN_PASSWORD="$(grafana_password)" $(COMPOSE) --profile $(ARCH) $(grafana_profile) up -d --wait --remove-orphans $(call elsewhere,$(ARCH)) || { \
	  echo "connlab: ERROR: the stack did not come up; the last lines of $(ARCH)'s log (make down stops what started):" >&2; \
	  $(COMPOSE) --profile $(ARCH) logs --no-color --tail 20 $(ARCH) >&2; exit 1; }
	@echo "connlab: $(ARCH) is up"
	@$(if $(SERVER_ENGINE),host=$(SERVER_ADDRESS); port=7000; metrics=$(SERVER_ADDRESS):8000, \
	 address=$$($(COMPOSE) --profile $(ARCH) port $(ARCH) 7000); port=$${address##*:}; host=$${address%:*}; \
	 [ "$$host" = 0.0.0.0 ] && host=127.0.0.1; \
	 metrics=$$($(COMPOSE) --profile $(ARCH) port $(ARCH) 8000)); \
	 case "$(PROTOCOL)" in \
	   http) echo "  HTTP:       curl http://$$host:$$port/ping";; \
	   *) echo "  RESP:       redis-cli -h $$host -p $$port PING";; esac; \
	 echo "  metrics:    http://$$metrics/metrics"
	@echo "  Locust:     http://$${BIND_ADDRESS:-127.0.0.1}:8089 (host tcp://$(server_host):7000, protocol $(or $(PROTOCOL),resp), $(LOADGEN_WORKERS) worker(s) on CPUs $(LOADGEN_CPUS))"
	@echo "  Prometheus: http://$${BIND_ADDRESS:-127.0.0.1}:9090/targets (every target should be up)"
	@if docker image inspect $(GRAFANA_IMAGE) >/dev/null 2>&1; then \
	  echo "  Grafana:    http://$${BIND_ADDRESS:-127.0.0.1}:3000 (anonymous view; admin password in build/grafana-admin-password unless GRAFANA_ADMIN_PASSWORD is set)"; \
	else \
	  echo "  Grafana:    not started: image $(GRAFANA_IMAGE) is not here and cannot be pulled."; \
	  echo "              Look at Prometheus instead: http://$${BIND_ADDRESS:-127.0.0.1}:9090/graph (the dashboards' queries are in grafana/dashboards/*.json)"; \
	fi
endif

down: $(if $(findstring $(VENV),$(COMPOSE_BIN)),venv) ## Stop and remove every connlab container
	@COMPOSE_PROFILES='*' $(COMPOSE) down --remove-orphans
	@COMPOSE="$(COMPOSE)" scripts/server-engine.sh down
	@rm -f build/prometheus/targets/reference.json

logs: ## Follow the logs of the running services
	@COMPOSE_PROFILES='*' $(COMPOSE) logs -f --tail 100

ps: ## List the running services and their ports
	@COMPOSE_PROFILES='*' $(COMPOSE) ps

# The suites run against both server builds: with the GIL and free-threaded.
TEST_PYTHONS ?= 3.13 3.13t
test: check-python-run check-docker venv images ## Unit and integration tests on both server builds (builds what is missing)
	@for build in $(filter-out $(PYTHON),$(TEST_PYTHONS)); do PYTHON=$$build scripts/images.sh server || exit; done
	@scripts/images.sh references
	@scripts/host-tools.sh
	@TESTCONTAINERS_RYUK_DISABLED=true SERVER_CPUS=$(SERVER_CPUS) LOADGEN_CPUS=$(LOADGEN_CPUS) CONNLAB_PYTHONS="$(TEST_PYTHONS)" $(VENV)/bin/pytest

# Load generator
USERS ?= 10
SPAWN_RATE ?= $(USERS)
DURATION ?= 30s
RATE ?= 0
LOAD_ARGS ?=
RESULTS ?= results
.PHONY: load worker bench-loadgen
load: up venv ## Headless load on ARCH (or REFERENCE=<name>) through the stack's Locust workers: USERS=10 DURATION=30s [RATE=req/s] [PROTOCOL=http] [LOAD_ARGS='--pipeline 16 ...']
	@host=tcp://$(server_host):7000; PROTOCOL=$(or $(PROTOCOL),resp); \
	 $(if $(REFERENCE),eval "$$(PYTHONPATH=services:experiments $(HOST_PYTHON) scripts/reference.py "$(REFERENCE)")"; host=tcp://$$LOADGEN_HOST;) \
	 $(VENV)/bin/python scripts/load.py --url http://$$(h=$${BIND_ADDRESS:-127.0.0.1}; [ "$$h" = 0.0.0.0 ] && h=127.0.0.1; echo $$h):8089 \
	  --host $$host --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) --rate $(RATE) \
	  --results $(RESULTS)/load --name $(or $(REFERENCE),$(ARCH)) --protocol $$PROTOCOL $(LOAD_ARGS)

worker: check-docker $(if $(findstring $(VENV),$(COMPOSE_BIN)),venv) ## Locust workers on this machine join a master on another: MASTER=<host>[:5557] [LOADGEN_WORKERS=n] (make down removes them)
	@COMPOSE="$(COMPOSE)" scripts/worker.sh

bench-loadgen: check-docker venv images ## Benchmark: one Locust worker vs redis-benchmark on one CPU against redis-server
	@scripts/images.sh references
	@BENCH_CPU=$${BENCH_CPU:-$(firstword $(subst -, ,$(LOADGEN_CPUS)))} SERVER_CPUS=$(SERVER_CPUS) $(VENV)/bin/python benchmarks/bench_loadgen.py

comma := ,
# TARGETS selects designs and references for compare and bench-server; ARCHS= and
# VARIANTS=, their old names, still work for now.
TARGETS ?= $(or $(ARCHS),$(VARIANTS))
ifneq ($(ARCHS)$(VARIANTS),)
$(info connlab: $(if $(ARCHS),ARCHS,VARIANTS)= is now TARGETS= (the old name still works for now))
endif
first_cpu = $(firstword $(subst -, ,$(subst $(comma), ,$(1))))
REPEAT ?= 3
.PHONY: bench-server bench-handoff bench
bench-server: check-python-run check-docker venv images ## Benchmark: every design on one server CPU next to the references and a bare asyncio server [TARGETS=a,b REPEAT=3 PYTHON=3.13t PYTHONS=3.13,3.13t PROTOCOL=http]
	@scripts/images.sh references
	@for build in $(filter-out $(PYTHON),$(subst $(comma), ,$(PYTHONS))); do PYTHON=$$build scripts/images.sh server || exit; done
	@$(VENV)/bin/python benchmarks/bench_server.py --server-cpu $(call first_cpu,$(SERVER_CPUS)) --client-cpu $(call first_cpu,$(LOADGEN_CPUS)) \
	  --repeat $(REPEAT) $(if $(TARGETS),--targets $(TARGETS)) --pythons "$(or $(PYTHONS),$(PYTHON))" $(if $(PROTOCOL),--protocol $(PROTOCOL))

bench-handoff: check-python-run check-docker venv images ## Benchmark: a hand-off between threads beside computing ones on one CPU, with and without the GIL (no connlab code)
	@PYTHON=3.13t scripts/images.sh server
	@$(VENV)/bin/python benchmarks/handoff.py --cpu $(call first_cpu,$(SERVER_CPUS))

bench: bench-server bench-loadgen bench-scaling bench-handoff ## Every benchmark above, one after the other

# Experiments
SCENARIOS ?=
QUICK ?=
PYTHONS ?=
PROTOCOLS ?=
.PHONY: compare
compare: check-python-run check-docker venv images | build/prometheus/targets ## Every scenario on every architecture: results/compare/<UTC>/ [SCENARIOS= TARGETS= PROTOCOLS=resp,http REPEAT=3 QUICK=1 BUDGET=minutes PYTHONS=3.13,3.13t SETTINGS=KEY=VALUE,... RESUME=<run> PROMETHEUS=auto|off SERVER_ENGINE=ssh://user@host SERVER_ADDRESS=host]
	@$(if $(RESUME),test -f "$(RESUME)/run.json" || { echo "connlab: RESUME=$(RESUME) is not a run that make compare started (it has no run.json); give results/compare/<UTC stamp>" >&2; exit 2; })
	@scripts/images.sh references
	@for build in $(filter-out $(PYTHON),$(subst $(comma), ,$(PYTHONS))); do PYTHON=$$build scripts/images.sh server || exit; done
	@LOCUST_SKIP_MONKEY_PATCH=1 PYTHONPATH=services:loadgen:experiments $(VENV)/bin/python -m connlab_compare \
	  $(if $(RESUME),--resume "$(RESUME)",--scenarios "$(SCENARIOS)" --targets "$(TARGETS)" --protocols "$(PROTOCOLS)" $(if $(QUICK),--quick) \
	  $(if $(filter command line environment,$(origin REPEAT)),--repeat $(REPEAT)) \
	  $(if $(BUDGET),--budget "$(BUDGET)") \
	  --pythons "$(or $(PYTHONS),$(PYTHON))" --set "$(SETTINGS)" --server-cpus $(SERVER_CPUS) --loadgen-cpus $(LOADGEN_CPUS) \
	  --server-engine "$(SERVER_ENGINE)" --server-address "$(SERVER_ADDRESS)") \
	  $(if $(PROMETHEUS),--prometheus "$(PROMETHEUS)")

.PHONY: compare-diff
compare-diff: venv ## Run B against run A, per scenario, step and design, and the verdicts that changed: A=results/compare/<UTC> B=...
	@test -n "$(A)" -a -n "$(B)" || { echo "connlab: give two runs: make compare-diff A=results/compare/<UTC> B=results/compare/<UTC>" >&2; exit 2; }
	@PYTHONPATH=services:loadgen:experiments $(VENV)/bin/python -m connlab_compare --diff "$(A)" "$(B)"

.PHONY: compare-report
compare-report: venv ## Redo the verdicts, figures and report of a run, finished or not: RUN=results/compare/<UTC>
	@test -n "$(RUN)" || { echo "connlab: compare-report needs RUN=results/compare/<UTC stamp>, a folder that make compare wrote" >&2; exit 2; }
	@PYTHONPATH=services:loadgen:experiments $(VENV)/bin/python -m connlab_compare --redraw "$(RUN)"

CPUS ?= 1
.PHONY: bench-scaling
bench-scaling: venv ## Benchmark: requests/s and p99 of each architecture on CPUS=1,2,4,... server CPUs, new connections/s, and p99 beside a blocked worker [PYTHONS=3.13,3.13t LOADS=work,sleep,new,blocked] (table in build/scaling.json)
	@$(VENV)/bin/python benchmarks/scaling.py --cpus $(CPUS) $(if $(PYTHONS),--pythons $(PYTHONS)) $(if $(LOADS),--loads $(LOADS)) --json build/scaling.json

.PHONY: model
model: venv ## The many-core model checked against a bench-scaling table, then its predictions to 64 cores [INPUTS=build/scaling.json]
	@PYTHONPATH=services:loadgen:experiments $(VENV)/bin/python -m connlab_model $(if $(INPUTS),--inputs $(INPUTS)) --out build/model

# Fuzz and soak
.PHONY: fuzz soak
# Without ARCH on the command line, fuzz covers every architecture and mode.
FUZZ_ARCH = $(if $(filter file,$(origin ARCH)),all,$(ARCH))

fuzz: check-python-run check-docker venv images ## Fuzz live servers: every mode, or ARCH=<arch|mode> [PROTOCOL=http PYTHON=3.13t FUZZ_RUNS=20 FUZZ_SECONDS FUZZ_FRAMES FUZZ_SEED]
	@ARCH=$(FUZZ_ARCH) PROTOCOL=$(PROTOCOL) TESTCONTAINERS_RYUK_DISABLED=true SERVER_CPUS=$(SERVER_CPUS) PYTHONPATH=services:tests:loadgen $(VENV)/bin/python tests/fuzz.py

soak: check-python-run check-docker venv images ## Soak ARCH (or a mode) for SOAK_SECONDS (180) of mixed load with churn; fails on errors [PYTHON=3.13t]
	@ARCH=$(ARCH) PYTHON=$(PYTHON) TESTCONTAINERS_RYUK_DISABLED=true SERVER_CPUS=$(SERVER_CPUS) PYTHONPATH=services:tests $(VENV)/bin/python benchmarks/soak.py
