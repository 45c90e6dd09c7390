# Acionar: the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing (uv, Python packages, PostgreSQL + PostGIS, Redis),
# use DATABASE_URL / REDIS_URL when set, and otherwise start project-local
# instances under .var/ on loopback ports (`make stop` stops them).

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup sync services browser web migrate seed run test stop status lint format bench fuzz

UV = $(shell ./scripts/bootstrap-uv.sh)
BIN := .venv/bin
export UV_PYTHON_DOWNLOADS := never
export PYTHONUNBUFFERED := 1

help:
	@echo "make run    set everything up and serve Acionar with demo data (HOST, PORT settable)"
	@echo "make test   set everything up and run the whole test suite"
	@echo "make web    build the operators' console (clients/web) with Vite"
	@echo "make stop   stop the local PostgreSQL and Redis started under .var/"
	@echo "make status show the local services"
	@echo "make lint   ruff and mypy"
	@echo "make bench  run the benchmarks and record docs/benchmarks.md"
	@echo "make fuzz   the long API fuzzing profile (FUZZ_EXAMPLES=200, a fresh seed)"

sync:
	@$(UV) sync --frozen --quiet

services: sync
	@$(BIN)/acionar services up

migrate: services
	@$(BIN)/acionar migrate

seed: migrate
	@$(BIN)/acionar seed-demo

setup: seed

web:
	@./scripts/build-web.sh

run: setup web
	@$(BIN)/acionar serve --demo

browser:
	@./scripts/ensure-chromium.sh

test: services browser web
	@cd clients/web && npx --no-install vitest run --reporter=dot
	@$(BIN)/pytest

stop:
	@if [ -x $(BIN)/acionar ]; then $(BIN)/acionar services down; else echo "nothing to stop"; fi

status: sync
	@$(BIN)/acionar services status

lint: sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: sync
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: migrate web browser
	@$(BIN)/python -m bench

fuzz: services
	@FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM} $(BIN)/pytest tests/e2e/test_api_fuzz.py
