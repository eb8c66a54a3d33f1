# The two commands of README.md. Each installs what it needs first (scripts/setup.sh).
# DuckDB is built once, in release; both targets share that build.
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(HOME)/.cache/rehearse/target
OUT ?= out

.PHONY: run test setup setup-test bench example fuzz

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

# Fuzzes the readers (README, Fuzzing): FUZZ_SECONDS per target, one target after the other,
# from the committed seeds; new inputs go to fuzz/corpus/, crashes to fuzz/artifacts/. cargo fuzz
# passes nightly flags (-Zsanitizer=address): RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= plain custom tar directory csv_dir version
FUZZ_TARGET_DIR ?= $(HOME)/.cache/rehearse/fuzz-target
fuzz:
	@command -v cargo-fuzz >/dev/null || env -u CARGO_TARGET_DIR $(CARGO) install --locked cargo-fuzz
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$target && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --target-dir $(FUZZ_TARGET_DIR) $$target \
			fuzz/corpus/$$target fuzz/seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 || exit 1; \
	done
