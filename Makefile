# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-engines scale-demo bench lint venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/python manage.py run

# The suite gets its own embedded PostgreSQL and Redis (under .data/test), so it never
# disturbs a `make run` of the same checkout. A few tests prove the pooled backend against
# Debian's pgbouncer, installed on first use.
test: $(STAMP)
	command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		(apt-get update -q && apt-get install -y -q pgbouncer)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	CPAAS_DATA_DIR=$(CURDIR)/.data/test $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The pipeline, fault and Celery-worker tests again on the production engines: the
# machine's RabbitMQ (a vhost of the run's own) and PostgreSQL behind a PgBouncer in
# transaction mode that the lane starts (scripts/test_engines.py, docs/DEPLOY.md).
test-engines: $(STAMP)
	command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		(apt-get update -q && apt-get install -y -q pgbouncer)
	$(VENV)/bin/python scripts/test_engines.py $(PYTEST_ARGS)

# Web, two worker hosts and the SMPP connector in network namespaces of their own, with
# the demo's own PostgreSQL, PgBouncer, RabbitMQ and Redis on a bridge; one worker host dies
# mid-run (scripts/scale_demo.py, docs/DEPLOY.md#measured-here). Needs root.
scale-demo: $(STAMP)
	command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		(apt-get update -q && apt-get install -y -q pgbouncer)
	$(VENV)/bin/python scripts/scale_demo.py

# HTTP load comes from wrk (Debian's package), installed on first use.
# `make bench BENCH_SECTIONS=messaging` measures one section again (bench/run.py).
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	CPAAS_DATA_DIR=$(CURDIR)/.data/bench $(VENV)/bin/python bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
