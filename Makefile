# Switchboard: `make run` starts the hub, `make test` runs every test. Both set up everything first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LOCK   := web/vendor/autobahn-browser.lock
lock    = $(shell sed -n 's/^$(1)=//p' $(LOCK))
JS     := web/vendor/$(call lock,file)
# uPlot, the dashboard's charts (web/admin.html): its lock lists each file with its sha256
UPLOT_LOCK := web/vendor/uplot.lock
uplot   = $(shell sed -n 's/^$(1)=//p' $(UPLOT_LOCK))
UPLOT  := web/vendor/uPlot.iife.min.js
#: what the pages load from web/vendor/, fetched and checked by `make vendor`
VENDORED := $(JS) $(UPLOT)

.PHONY: run cluster test bench-smoke wheel fuzz check bench bench-cluster bench-cluster-outage bench-tuning bench-soak bench-instructions vendor chromium nginx redis-server valgrind clean constraints

run: $(VENV)/.hub $(VENDORED)
	$(VENV)/bin/switchboard run

# A 3-node cluster on loopback with its own Redis (docs/scaling.md, "Trying a cluster"); Ctrl-C stops it.
cluster: $(VENV)/.hub $(VENDORED) redis-server
	$(VENV)/bin/switchboard cluster up --nodes 3

test: $(VENV)/.test $(VENDORED) chromium nginx redis-server
	$(PY) -m pytest -m "not bench" $(PYTEST_ARGS)

# Small runs of the benchmarks (tests marked bench): they need the bench extras (the peers and their
# load generator), which make test does not install. .ci/run runs both.
bench-smoke: $(VENV)/.test $(VENV)/.bench $(VENDORED) redis-server valgrind
	$(PY) -m pytest -m bench $(PYTEST_ARGS)

# The hostile-input suite (tests/hostile/) with many examples; make test runs it with a few.
FUZZ_EXAMPLES ?= 2000
fuzz: $(VENV)/.test
	SWITCHBOARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/hostile $(PYTEST_ARGS)

check: $(VENV)/.hub
	$(VENV)/bin/switchboard check

# The Django example (docs/django.md): the hub, told where Django is, and Django on :8000. Ctrl-C stops both.
.PHONY: django-example
django-example: $(VENV)/.test $(VENDORED)
	$(PY) examples/django_site/run.py

# Benchmarks (docs/benchmarks.md): BENCH_ARGS=--quick for a short run.
bench: $(VENV)/.bench redis-server
	$(PY) -m bench.django_publish $(BENCH_ARGS)
	$(PY) -m bench.history $(BENCH_ARGS)
	$(PY) -m bench.peers $(BENCH_ARGS)

# Switchboard's settings one at a time, three rounds (docs/benchmarks.md, "Tuning Switchboard").
bench-tuning: $(VENV)/.bench
	$(PY) -m bench.peers --tuning $(BENCH_ARGS)

# A cluster's costs (bench/cluster.py): fan-out over 1-3 nodes against one node alone, RPC local and across
# nodes, connects to one node and spread, one node on one core, both cores and behind proxies; results in
# bench/results/cluster.md.
bench-cluster: $(VENV)/.bench redis-server
	$(PY) -m bench.cluster $(BENCH_ARGS)

# Redis killed -9 and restarted, 2 s and 10 s, under a steady stream on a 2-node cluster (bench/cluster_outage.py):
# what is lost and what is not, and how long each part takes to work again; results in bench/results/cluster_outage.md.
bench-cluster-outage: $(VENV)/.bench redis-server
	$(PY) -m bench.cluster_outage $(BENCH_ARGS)

# Router instructions per call and per event with the guards and the metrics counting on and off
# (valgrind callgrind; docs/benchmarks.md): about 8 minutes on a 2-core machine.
bench-instructions: $(VENV)/.bench valgrind
	$(PY) -m bench.router_instructions $(BENCH_ARGS)

# Fan-out beside slow, malformed and churning clients, and without them (docs/benchmarks.md, "Soak"): about 8 minutes.
bench-soak: $(VENV)/.bench
	$(PY) -m bench.soak $(BENCH_ARGS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Every install takes its exact versions from constraints.txt; setup.cfg holds the ranges.
PIP := $(PY) -m pip install --quiet -c constraints.txt

$(VENV)/.hub: setup.cfg pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e '.[hub]'
	touch $@

$(VENV)/.test: $(VENV)/.hub
	$(PIP) -e '.[hub,test]'
	touch $@

$(VENV)/.bench: $(VENV)/.hub
	$(PIP) -e '.[hub,bench]'
	touch $@

# The wheel another project installs (README, "Install it into another project"): the page's AutobahnJS first.
wheel: $(VENDORED) | $(VENV)/bin/python
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/switchboard_hub-*.whl

# constraints.txt from a fresh virtualenv with every extra at the newest versions setup.cfg allows.
constraints:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/pip" install --quiet '.[hub,test,bench]' && \
	{ sed -n '1,/^# .*make constraints/p' constraints.txt; "$$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^switchboard'; } > "$$tmp/c" && \
	mv "$$tmp/c" constraints.txt && echo "constraints.txt updated"

vendor: $(VENDORED)

# AutobahnJS from the npm registry, verified against the checksum recorded in the lock file.
$(JS): $(LOCK)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent "$(call lock,package)@$(call lock,version)" >/dev/null && tar xzf *.tgz) && \
	echo "$(call lock,sha256)  $$tmp/package/$(call lock,file)" | sha256sum --check --quiet && \
	cp "$$tmp/package/$(call lock,file)" $(JS) && cp "$$tmp/package/LICENSE" web/vendor/autobahn.LICENSE && \
	echo "vendored $(call lock,package) $(call lock,version) -> $(JS) (sha256 ok)"

# uPlot from the npm registry: every file its lock lists, each checked against its sha256 there.
$(UPLOT): $(UPLOT_LOCK)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent "$(call uplot,package)@$(call uplot,version)" >/dev/null && tar xzf *.tgz) && \
	sed -n 's/^sha256=//p' $(UPLOT_LOCK) > "$$tmp/sums" && (cd "$$tmp/package" && sha256sum --check --quiet ../sums) && \
	for f in $$(awk '{print $$2}' "$$tmp/sums"); do cp "$$tmp/package/$$f" web/vendor/; done && \
	cp "$$tmp/package/LICENSE" web/vendor/uplot.LICENSE && \
	echo "vendored $(call uplot,package) $(call uplot,version) -> web/vendor/ (sha256 ok)"

# Browser tests drive Debian's chromium; install it when missing and we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The deployment test (tests/integration/test_nginx_deploy.py) runs docs/deploy/'s site in Debian's nginx and
# checks its systemd unit with systemd-analyze; install them when missing and we are root.
nginx:
	@{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "the deployment test needs Debian nginx: sudo apt-get install nginx" >&2; exit 1; fi; }
	@command -v systemd-analyze >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; \
	  else echo "the deployment test needs systemd-analyze: sudo apt-get install systemd" >&2; exit 1; fi; }

# The cluster tests (tests/cluster) and the Channels side of the benchmark run a real Debian redis-server;
# install it when missing and we are root.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "the cluster tests and the benchmark need Debian redis-server: sudo apt-get install redis-server" >&2; exit 1; fi; }

# The instruction counts (bench/router_instructions.py) run the router under Debian's valgrind.
valgrind:
	@command -v valgrind >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; \
	  else echo "the instruction counts need Debian valgrind: sudo apt-get install valgrind" >&2; exit 1; fi; }

clean:
	rm -rf $(VENV) .switchboard .pytest_cache
