#!/usr/bin/env bash
# Benchmark `rehearse import` and `rehearse run` on generated pg_dump exports, optionally against
# the baseline a user has without rehearse: restore the dump into a scratch PostgreSQL 15 and run
# the shipped rollback there (docs/ROLLBACK.md §2).
#
# Usage: scripts/bench.sh [--sizes "100 500"] [--formats "plain custom"] [--shape issue6|issue17]
#                        [--baseline [--baseline-upto MB]]
# Env:   REHEARSE_BIN (default $HOME/.cache/rehearse/target/release/rehearse)
#        BENCH_OUT    (default out/bench; bench-results.md and logs/ are written there)
#        TMPDIR       (scratch space: cluster + dumps + workspaces, GBs for big sizes)
# See scripts/README-bench.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
BIN="${REHEARSE_BIN:-$HOME/.cache/rehearse/target/release/rehearse}"
OUT_DIR="${BENCH_OUT:-out/bench}"
sizes="100"
formats="plain custom"
baseline=""
baseline_upto=""
shape=issue6
db=model_management_db

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sizes) sizes="${2:?--sizes needs a value}"; shift 2 ;;
        --sizes=*) sizes="${1#*=}"; shift ;;
        --formats) formats="${2:?--formats needs a value}"; shift 2 ;;
        --formats=*) formats="${1#*=}"; shift ;;
        --shape) shape="${2:?--shape needs a value}"; shift 2 ;;
        --shape=*) shape="${1#*=}"; shift ;;
        --baseline) baseline=1; shift ;;
        --baseline-upto) baseline_upto="${2:?--baseline-upto needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for s in $sizes; do
    [[ "$s" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v s="$s" 'BEGIN{exit !(s>0)}' \
        || { echo "bench: bad size '$s' (MB, e.g. 100)" >&2; exit 2; }
done
for f in $formats; do
    [[ "$f" == plain || "$f" == custom ]] || { echo "bench: bad format '$f' (plain, custom)" >&2; exit 2; }
done
[[ "$shape" == issue6 || "$shape" == issue17 ]] || { echo "bench: bad shape '$shape' (issue6, issue17)" >&2; exit 2; }
[[ -n "${sizes// }" && -n "${formats// }" ]] || { echo "bench: empty --sizes or --formats" >&2; exit 2; }

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

[[ -x "$BIN" ]] || die "rehearse binary not found at $BIN (build it: cargo build --release, or set REHEARSE_BIN)"
command -v python3 >/dev/null || die "python3 is required"

sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
if [[ ! -x /usr/bin/time ]]; then
    log "installing /usr/bin/time (Debian package 'time')"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi

# --- PostgreSQL 15 (scratch cluster, shared with fixtures/make_example.sh) -----------------
# shellcheck source-path=SCRIPTDIR source=scratch-pg.sh
source "$here/scratch-pg.sh"
scratch_pg_find_bindir pg_restore || die "no PostgreSQL 15 binaries"

mkdir -p "$OUT_DIR/logs"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
logs="$OUT_DIR/logs"
rm -f "$logs"/*.log

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rehearse-bench.XXXXXX")"
work="$tmp/work"          # dumps, workspaces, run dirs (ours)
mkdir -p "$work"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    scratch_pg_stop
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scratch_pg_start "$tmp" "$logs" || die "could not start a scratch PostgreSQL"

conn=(-h "$tmp" -p "$port" -U postgres)
export PGOPTIONS="-c client_min_messages=warning"
psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 "${conn[@]}")
q() { "${psql[@]}" -At -d "$1" -c "$2"; }   # q DB SQL -> value

# --- helpers --------------------------------------------------------------------------------
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
fmt1() { awk -v x="$1" 'BEGIN{printf "%.1f", x}'; }

# measure NAME CMD... : runs CMD under /usr/bin/time -v; sets m_rc, m_wall (s), m_rss (MB), m_err
measure() {
    local name="$1"; shift
    m_rc=0
    /usr/bin/time -v -o "$work/$name.time" "$@" >"$logs/$name.out.log" 2>"$logs/$name.err.log" || m_rc=$?
    read -r m_wall m_rss < <(python3 - "$work/$name.time" <<'PY'
import sys
wall = rss = None
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    if line.startswith("Elapsed (wall clock) time"):
        v = line.rsplit(": ", 1)[1].split(":")
        wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(v)))
    elif line.startswith("Maximum resident set size (kbytes)"):
        rss = int(line.rsplit(": ", 1)[1]) / 1024
print(f"{wall:.2f}" if wall is not None else "nan", f"{rss:.0f}" if rss is not None else "nan")
PY
)
    m_err="$(grep -m1 -v '^[[:space:]]*$' "$logs/$name.err.log" 2>/dev/null || true)"
    [[ -n "$m_err" ]] || m_err="exit $m_rc"
    m_err="${m_err//"$work/"/}"
    m_err="${m_err//|/\\|}"
    (( ${#m_err} <= 100 )) || m_err="${m_err:0:97}..."
}

# size (MB) -> generate.py's arguments.
# issue6: MB = 10^6 bytes of plain dump, in the proportions issue 6 asks for: 50 000 model_ids
# (~325 000 versions) and 5 000 000 request_logs rows per ~1.1 GB, so request_logs is ~70 % of the
# bytes. Calibration (generate.py output, measured): ~6 220 bytes per model_id (its 1-12 versions,
# services, experiments, artifacts, feedback, contracts) and ~142 bytes per request_logs row.
# issue17: the database of issue 17's 857 MB dump, scaled by size / 857: 50 000 model_ids
# (~325 000 versions), 4.35 services and 0.503 experiment variants per model_id (217 499 and
# 25 161), 5 000 000 request_logs rows; MB names that database, the dump's bytes are measured.
# The table reports the measured share of request_logs in each plain dump.
size_args() {
    python3 - "$1" "$shape" <<'PY'
import sys
size, shape = float(sys.argv[1]), sys.argv[2]
if shape == "issue17":
    scale = size / 857
    print(max(21, round(50000 * scale)), max(1, round(5000000 * scale)),
          "--services-per-model 4.35 --variants-per-model 0.503")
else:
    b = size * 1e6
    per_gb = 50000 * 6220 + 5000000 * 142
    print(max(21, round(50000 * b / per_gb)), max(1, round(5000000 * b / per_gb)))
PY
}

# Bytes of each table's COPY block in a plain dump -> prints request_logs share (%).
logs_share() {
    python3 - "$1" <<'PY'
import sys
total = cur = 0
per = {}
with open(sys.argv[1], "rb") as f:
    for line in f:
        total += len(line)
        if cur:
            per[cur] = per.get(cur, 0) + len(line)
            if line == b"\\.\n":
                cur = 0
        elif line.startswith(b"COPY "):
            cur = line.split(b" ", 2)[1].decode()
            per[cur] = per.get(cur, 0) + len(line)
print(f"{100 * per.get('public.request_logs', 0) / total:.1f}")
PY
}

# "writes reads unlocked" seconds from the closing NOTICE of a 02_rollback.sql run (see src/emit).
lock_seconds() {
    sed -n 's/.*rehearse: locks held: writes blocked for \([0-9.]*\) s .*reads blocked for \([0-9.]*\) s .*unlocked checks before them \([0-9.]*\) s.*/\1 \2 \3/p' "$1" | head -1
}

# "01_s 02_s writes_s reads_s unlocked_s" from `rehearse validate`'s validation.json ("-" where missing).
validated_seconds() {
    python3 - "$1" <<'PY'
import json, sys
try:
    runs = {r["script"]: r for r in json.load(open(sys.argv[1]))["scripts"]}
except (OSError, ValueError, KeyError):
    runs = {}
def sec(x):
    return f"{x:.2f}" if isinstance(x, (int, float)) else "-"
b, r = runs.get("01_backup.sql", {}), runs.get("02_rollback.sql", {})
locks = r.get("locks") or {}
print(sec(b.get("seconds")), sec(r.get("seconds")), sec(locks.get("writes_blocked_seconds")),
      sec(locks.get("reads_blocked_seconds")), sec(locks.get("unlocked_seconds")))
PY
}

loaded_rows() {   # sum of .tables[] | select(.loaded) | .rows from `rehearse inspect --json`
    python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(int(t.get("rows") or 0) for t in d.get("tables", []) if t.get("loaded")))'
}

# The shipped rollback, as PostgreSQL runs it (docs/ROLLBACK.md §2 "What the shipped scripts really
# do"): export_version_data_before_rollback.sql, then rollback_model_versioning.sql (policy legacy,
# orphan services deleted unconditionally, unique constraint in a DO block that swallows duplicates).
cat >"$work/rollback.sql" <<'SQL'
\timing on
-- export_version_data_before_rollback.sql
CREATE TABLE IF NOT EXISTS models_version_backup AS
SELECT id, model_id, version, version_status, release_notes, is_immutable, name, description,
       submitted_on, updated_on, is_published, published_at, unpublished_at, created_at, updated_at,
       CURRENT_TIMESTAMP AS backup_timestamp
FROM models;
CREATE TABLE IF NOT EXISTS services_version_backup AS
SELECT id, service_id, model_id, model_version, version_updated_at, name, endpoint,
       CURRENT_TIMESTAMP AS backup_timestamp
FROM services;
CREATE TABLE IF NOT EXISTS model_version_keep_mapping AS
SELECT DISTINCT ON (model_id) model_id, id AS model_id_to_keep, version AS version_to_keep,
       version_status, name
FROM models
ORDER BY model_id, CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version DESC;

-- rollback_model_versioning.sql
BEGIN;
-- Not in the shipped script: keeps the guide's NOT IN below a hashed subplan at every size.
SET LOCAL work_mem = '64MB';
DROP INDEX IF EXISTS idx_model_id_version;
DROP INDEX IF EXISTS idx_model_id_version_status;
DROP INDEX IF EXISTS idx_service_model_version;
ALTER TABLE models DROP CONSTRAINT IF EXISTS uq_model_id_version;
UPDATE services SET model_id = model_id;
ALTER TABLE services DROP COLUMN IF EXISTS model_version;
ALTER TABLE services DROP COLUMN IF EXISTS version_updated_at;
CREATE TEMP TABLE models_to_keep ON COMMIT DROP AS
SELECT DISTINCT ON (model_id) id
FROM models
ORDER BY model_id, CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version DESC;
DELETE FROM models m WHERE NOT EXISTS (SELECT 1 FROM models_to_keep k WHERE k.id = m.id);
ALTER TABLE models DROP COLUMN IF EXISTS version_status;
ALTER TABLE models DROP COLUMN IF EXISTS release_notes;
ALTER TABLE models DROP COLUMN IF EXISTS is_immutable;
DO $$
BEGIN
    ALTER TABLE models ADD CONSTRAINT models_model_id_key UNIQUE (model_id);
EXCEPTION WHEN unique_violation THEN
    RAISE WARNING 'could not add models_model_id_key: duplicate model_id values remain';
END $$;
DELETE FROM services WHERE model_id NOT IN (SELECT model_id FROM models);
DO $$
DECLARE n bigint;
BEGIN
    SELECT count(*) INTO n FROM information_schema.columns
    WHERE table_schema = 'public' AND ((table_name = 'models' AND column_name IN
          ('version_status', 'release_notes', 'is_immutable')) OR (table_name = 'services'
          AND column_name IN ('model_version', 'version_updated_at')));
    IF n > 0 THEN RAISE WARNING 'V1: % version columns remain', n; END IF;
    SELECT count(*) INTO n FROM (SELECT model_id FROM models GROUP BY model_id HAVING count(*) > 1) d;
    IF n > 0 THEN RAISE WARNING 'V2: % duplicated model_id', n; END IF;
    SELECT count(*) INTO n FROM services s LEFT JOIN models m ON m.model_id = s.model_id
    WHERE m.model_id IS NULL;
    IF n > 0 THEN RAISE WARNING 'V3: % services without a model', n; END IF;
END $$;
COMMIT;
SQL

# --- environment ----------------------------------------------------------------------------
ncpu="$(nproc)"
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)"
mem_gb="$(awk '/MemTotal/{printf "%.1f", $2/1048576}' /proc/meminfo)"
rver="$("$BIN" --version 2>/dev/null | head -1 || echo '?')"
rsha="$(sha256sum "$BIN" | cut -c1-12)"
pgver="$("$bindir/postgres" --version)"
log "rehearse: $BIN ($rver); nproc=$ncpu"

setup_rows=()
result_rows=()
script_rows=()
phase_lines=()

for size in $sizes; do
    read -r n_models n_logs shape_args < <(size_args "$size")
    tag="${size}MB"
    log "$tag: generate.py --models $n_models --request-logs $n_logs $shape_args"
    t0=$(now)
    # shellcheck disable=SC2086  # shape_args is a list of options
    python3 "$root/fixtures/generate.py" --models "$n_models" --request-logs "$n_logs" $shape_args \
        --out "$work/gen.sql" 2>"$logs/$tag-generate.log"
    t_gen=$(since "$t0")
    sql_bytes=$(stat -c %s "$work/gen.sql")

    log "$tag: loading $(fmt1 "$(awk -v b="$sql_bytes" 'BEGIN{print b/1e6}')") MB of SQL into PostgreSQL"
    q postgres "DROP DATABASE IF EXISTS $db" >/dev/null
    q postgres "CREATE DATABASE $db" >/dev/null
    t0=$(now)
    "${psql[@]}" -d "$db" -f "$work/gen.sql" >"$logs/$tag-load.log" 2>&1 \
        || { tail -5 "$logs/$tag-load.log" >&2; die "$tag: loading the generated SQL failed"; }
    t_load=$(since "$t0")
    rm -f "$work/gen.sql"
    rows_m=$(q "$db" "SELECT count(*) FROM models")
    rows_s=$(q "$db" "SELECT count(*) FROM services")
    rows_ids=$(q "$db" "SELECT count(DISTINCT model_id) FROM models")
    rows_v=$(q "$db" "SELECT count(*) FROM experiment_variants")
    rows_l=$(q "$db" "SELECT count(*) FROM request_logs")

    declare -A dump=()
    t0=$(now)
    "$bindir/pg_dump" --no-owner "${conn[@]}" -d "$db" -f "$work/dump-$tag.sql"
    t_dump_plain=$(since "$t0")
    dump[plain]="$work/dump-$tag.sql"
    share=$(logs_share "${dump[plain]}")
    t_dump_custom="-"
    if [[ " $formats " == *" custom "* ]]; then
        t0=$(now)
        "$bindir/pg_dump" --no-owner -Fc "${conn[@]}" -d "$db" -f "$work/dump-$tag.dump"
        t_dump_custom=$(since "$t0")
        dump[custom]="$work/dump-$tag.dump"
    fi
    q postgres "DROP DATABASE $db" >/dev/null
    setup_rows+=("| $size | $n_models | $n_logs | $sql_bytes | $t_gen | $t_load | $t_dump_plain | $t_dump_custom | $share % |")

    for fmt in $formats; do
        f="${dump[$fmt]}"
        bytes=$(stat -c %s "$f")
        ws="$work/ws-$tag-$fmt.duckdb"
        name="$tag-$fmt"

        # (a) rehearse
        log "$name: rehearse import ($bytes bytes)"
        measure "$name-import" "$BIN" import "$f" --workspace "$ws" --force
        a_ok=""; imp="-"; mbps="-"; loaded="-"; rps="-"; rss="-"
        if [[ $m_rc == 0 ]]; then
            a_ok=1; imp=$m_wall; rss=$m_rss
            mbps=$(awk -v b="$bytes" -v s="$imp" 'BEGIN{ if (s > 0) printf "%.1f", b/1e6/s; else print "-" }')
            if loaded=$("$BIN" inspect "$ws" --json 2>"$logs/$name-inspect.err.log" | loaded_rows); then
                rps=$(awk -v r="$loaded" -v s="$imp" 'BEGIN{ if (s > 0) printf "%.0f", r/s; else print "-" }')
            else
                loaded="inspect failed"; rps="-"
            fi
        else
            imp="failed: $m_err"
            log "$name: import failed: $m_err"
        fi
        rm -f "$ws" "$ws.wal"

        run_ok=""; run_rss=""
        log "$name: rehearse run"
        measure "$name-run" "$BIN" -v run "$f" --out "$work/run-$name" --force
        if [[ $m_rc == 0 || $m_rc == 3 ]]; then
            runs=$m_wall; [[ $m_rc == 3 ]] && runs="$runs (exit 3)"
            run_rss=" / $m_rss"; run_ok=$m_wall
            phase_lines+=("$name:" "$(grep ': .* s' "$logs/$name-run.err.log" || true)")
        else
            runs="failed: $m_err"
        fi
        rm -rf "$work/run-$name"

        # (b) baseline: restore + shipped rollback in PostgreSQL
        b_rest="-"; b_roll="-"; b_sum="-"; ratio="-"; ratio_run="-"
        if [[ -n "$baseline" ]] && awk -v s="$size" -v u="${baseline_upto:-inf}" 'BEGIN{exit !(u == "inf" || s <= u)}'; then
            bdb="baseline_$fmt"
            q postgres "DROP DATABASE IF EXISTS $bdb" >/dev/null
            "$bindir/createdb" "${conn[@]}" "$bdb"
            log "$name: baseline restore"
            t0=$(now)
            if [[ $fmt == plain ]]; then
                "${psql[@]}" -d "$bdb" -f "$f" >"$logs/$name-restore.log" 2>&1
            else
                "$bindir/pg_restore" --no-owner --exit-on-error --jobs="$ncpu" "${conn[@]}" -d "$bdb" "$f" \
                    >"$logs/$name-restore.log" 2>&1
            fi || { tail -5 "$logs/$name-restore.log" >&2; die "$name: baseline restore failed"; }
            b_rest=$(since "$t0")
            log "$name: baseline rollback"
            t0=$(now)
            "${psql[@]}" -d "$bdb" -f "$work/rollback.sql" >"$logs/$name-rollback.log" 2>&1 \
                || { tail -5 "$logs/$name-rollback.log" >&2; die "$name: baseline rollback failed"; }
            b_roll=$(since "$t0")
            after=$(q "$bdb" "SELECT count(*) || ' models, ' || (SELECT count(*) FROM services) || ' services' FROM models")
            echo "models/services after the rollback: $after" >>"$logs/$name-rollback.log"
            q postgres "DROP DATABASE $bdb" >/dev/null
            b_sum=$(awk -v a="$b_rest" -v b="$b_roll" 'BEGIN{printf "%.2f", a+b}')
            [[ -z "$a_ok" ]] || ratio=$(awk -v b="$b_sum" -v a="$imp" 'BEGIN{ if (a > 0) printf "%.1f×", b/a; else print "-" }')
            [[ -z "$run_ok" ]] || ratio_run=$(awk -v b="$b_sum" -v a="$run_ok" 'BEGIN{ if (a > 0) printf "%.1f×", b/a; else print "-" }')
        fi
        b_cell="-"
        [[ $b_sum == "-" ]] || b_cell="$b_rest + $b_roll = $b_sum"
        result_rows+=("| $size | $fmt | $bytes | $rows_m | $rows_s | $rows_l | $imp | $mbps | $loaded | $rps | $rss$run_rss | $runs | $b_cell | $ratio | $ratio_run |")
    done
    # (c) the emitted scripts on PostgreSQL, with the shipped script's choices (policy legacy,
    # orphans deleted): `rehearse validate` times them itself; then bench restores the dump
    # into its own cluster and times 01 and 02 with psql, reading 02's lock times.
    sfmt=custom; [[ -n "${dump[custom]:-}" ]] || sfmt=plain
    f="${dump[$sfmt]}"
    vrun="$work/validate-$tag"
    log "$tag: rehearse validate --policy legacy --delete-orphans ($sfmt)"
    measure "$tag-validate" "$BIN" validate "$f" --policy legacy --delete-orphans --out "$vrun" --force
    v_cells="failed: $m_err | - | - | - | -"
    if [[ $m_rc == 0 ]]; then
        read -r v01 v02 vw vr vu < <(validated_seconds "$vrun/validation.json")
        v_cells="$v01 | $v02 | $vu | $vw | $vr"
    fi
    p_cells="- | - | - | - | - | -"
    if [[ -f "$vrun/scripts/02_rollback.sql" ]]; then
        sdb="scripts_$sfmt"
        q postgres "DROP DATABASE IF EXISTS $sdb" >/dev/null
        "$bindir/createdb" "${conn[@]}" "$sdb"
        log "$tag: restore for the emitted scripts"
        if [[ $sfmt == plain ]]; then
            "${psql[@]}" -d "$sdb" -f "$f" >"$logs/$tag-scripts-restore.log" 2>&1
        else
            "$bindir/pg_restore" --no-owner --exit-on-error --jobs="$ncpu" "${conn[@]}" -d "$sdb" "$f" \
                >"$logs/$tag-scripts-restore.log" 2>&1
        fi || { tail -5 "$logs/$tag-scripts-restore.log" >&2; die "$tag: restore for the scripts failed"; }
        p01="failed"; p02="failed"; pw="-"; pr="-"; pu="-"
        load="$(cut -d' ' -f1-3 /proc/loadavg)"
        log "$tag: 01_backup.sql"
        t0=$(now)
        # No PGOPTIONS here: the scripts' NOTICEs carry the lock times.
        if PGOPTIONS="" "${psql[@]}" -d "$sdb" -f "$vrun/scripts/01_backup.sql" >"$logs/$tag-01_backup.log" 2>&1; then
            p01=$(since "$t0")
            log "$tag: 02_rollback.sql"
            t0=$(now)
            if PGOPTIONS="" "${psql[@]}" -d "$sdb" -f "$vrun/scripts/02_rollback.sql" >"$logs/$tag-02_rollback.log" 2>&1; then
                p02=$(since "$t0")
                read -r pw pr pu < <(lock_seconds "$logs/$tag-02_rollback.log") || true
            fi
        fi
        q postgres "DROP DATABASE $sdb" >/dev/null
        p_cells="$p01 | $p02 | ${pu:--} | ${pw:--} | ${pr:--} | $load"
    fi
    rm -rf "$vrun"
    script_rows+=("| $size | $sfmt | $rows_ids | $rows_m | $rows_s | $rows_v | $v_cells | $p_cells |")

    rm -f "${dump[@]}"
    unset dump
done

# --- report ---------------------------------------------------------------------------------
report="$OUT_DIR/bench-results.md"
{
    echo "# rehearse benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$ncpu, ${cpu:-unknown CPU}, ${mem_gb} GB RAM"
    echo "- rehearse: \`$BIN\` ($rver, sha256 $rsha…)"
    echo "- $pgver (scratch cluster: fsync=off, synchronous_commit=off, full_page_writes=off)"
    echo "- command: \`scripts/bench.sh --sizes \"$sizes\" --formats \"$formats\"${baseline:+ --baseline}${baseline_upto:+ --baseline-upto $baseline_upto} --shape $shape\`"
    echo
    echo "## Set-up (not compared)"
    echo
    echo "| size MB | --models | --request-logs | SQL bytes | generate s | load s | pg_dump plain s | pg_dump -Fc s | request_logs share of plain dump |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${setup_rows[@]}"
    echo
    echo "## Results"
    echo
    echo "| size MB | format | dump bytes | models | services | request_logs | (a) import s | MB/s | rows loaded | rows/s | peak RSS MB (import / run) | run s | (b) restore + rollback s | (b)/(a) | (b)/run |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${result_rows[@]}"
    echo
    echo "(a) = \`rehearse import <dump> --workspace <tmp>.duckdb --force\`; run = \`rehearse run <dump> --out <dir> --force\` (end to end: it imports the dump itself, then rehearses with its default policy); wall times from \`/usr/bin/time -v\`."
    echo "MB = 10^6 bytes; MB/s = dump bytes / import s; rows loaded = sum of \`.tables[] | select(.loaded) | .rows\` of \`rehearse inspect --json\`."
    if [[ -n "$baseline" ]]; then
        echo "(b) = \`createdb\` + restore (plain: \`psql -f\`; custom: \`pg_restore --jobs=$ncpu\`) + the shipped backup and rollback SQL (ROLLBACK.md §2) in \`psql\`."
    fi
    echo "Logs of every step: \`$logs\`."
    echo
    echo "## Emitted scripts on PostgreSQL (policy legacy, orphans deleted)"
    echo
    echo "| size MB | dump | model_ids | models | services | experiment variants | validate: 01 s | validate: 02 s | validate: unlocked s | validate: writes blocked s | validate: reads blocked s | psql: 01 s | psql: 02 s | psql: unlocked s | psql: writes blocked s | psql: reads blocked s | load average before psql 01 |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${script_rows[@]}"
    echo
    echo "validate = \`rehearse validate <dump> --policy legacy --delete-orphans\` (its own scratch cluster, its \`validation.json\`); psql = the same scripts run by bench in its cluster on a fresh restore, wall time of \`psql -f\`. Unlocked = 02's drift guard before any lock (others read and write); writes blocked = from 02's first lock (a temporary index's SHARE, then SHARE ROW EXCLUSIVE) to the end of its work, after its unlocked drift guard, reads blocked = its ACCESS EXCLUSIVE part, both from 02's closing NOTICE."
    echo
    echo "## Phases of each run (\`rehearse -v run\`)"
    echo
    echo '```'
    printf '%s\n' "${phase_lines[@]}"
    echo '```'
} >"$report"
echo
cat "$report"
echo
log "wrote $report"
