# The two commands of README.md. Each installs what it needs first (scripts/setup.sh).
# DuckDB is built once, in release; both targets share that build.
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(HOME)/.cache/rehearse/target
OUT ?= out

.PHONY: run test setup setup-test bench example

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --for-tests

# The main job on the bundled example: rehearse the rollback, write out/example/.
run: setup
	$(CARGO) run --release --quiet -- run fixtures/example.sql --out $(OUT)/example --force

# The whole test suite: unit tests, and integration tests against a throw-away PostgreSQL.
test: setup-test
	$(CARGO) test --release

# Regenerates fixtures/example.sql with real PostgreSQL and pg_dump.
example: setup-test
	bash fixtures/make_example.sh
