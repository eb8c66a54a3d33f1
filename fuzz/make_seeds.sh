#!/usr/bin/env bash
# Regenerates fuzz/seeds/: a small database of fixtures/generate.py (1 model, the stale backup
# tables) loaded into a throw-away PostgreSQL 15 and written by real pg_dump in every form the
# readers take; pg_dump 16 adds archive format 1.15 when scripts/setup.sh --for-tests fetched it.
# Directory inputs are files joined by `==> NAME` lines (fuzz/src/tree.rs). Some cases of
# tests/cases/bad_input.cases mutate tar/example.tar and directory/uncompressed at fixed offsets:
# check them after regenerating.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$here/.."
seeds="$here/seeds"
db=model_management_db

# shellcheck source-path=SCRIPTDIR source=../scripts/scratch-pg.sh
source "$repo/scripts/scratch-pg.sh"
scratch_pg_find_bindir || exit 1

tmp="$(mktemp -d /tmp/rehearse-seeds.XXXXXX)"
cleanup() {
    local rc=$?
    scratch_pg_stop
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scratch_pg_start "$tmp" "$tmp" || { echo "could not start a scratch PostgreSQL" >&2; exit 1; }

# Clients run as the caller (only the server refuses root).
psql=("$bindir/psql" -X -v ON_ERROR_STOP=1 -q -h "$tmp" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE $db"
python3 "$repo/fixtures/generate.py" --models 1 --seed 1 --request-logs 1 --stale-backup | "${psql[@]}" -d "$db" >/dev/null

dump_with() { "$1/pg_dump" --no-owner -h "$tmp" -p "$port" -U postgres -d "$db" "${@:2}"; }
dump() { dump_with "$bindir" "$@"; }
# The files of a directory as one input: `==> NAME`, the bytes, a newline before the next.
joined() {
    local dir="$1" file sep=""
    for file in "$dir"/*; do
        printf '%s==> %s\n' "$sep" "$(basename "$file")"
        cat "$file"
        sep=$'\n'
    done
}

rm -rf "$seeds"
mkdir -p "$seeds"/{plain,custom,tar,directory,csv_dir,version}
dump >"$seeds/plain/copy.sql"
dump --column-inserts --rows-per-insert=2 >"$seeds/plain/inserts.sql"
gzip -9n <"$seeds/plain/copy.sql" >"$seeds/plain/copy.sql.gz"
dump -Fc -Z0 >"$seeds/custom/uncompressed.dump"
dump -Ft >"$seeds/tar/example.tar"
dump -Fd -Z0 -f "$tmp/dir"
joined "$tmp/dir" >"$seeds/directory/uncompressed"
# Compressed data, and pg_dump 16's archive format 1.15: two tables are enough.
two_tables=(-t public.models -t public.services)
dump -Fd -Z6 "${two_tables[@]}" -f "$tmp/dir-gzip"
joined "$tmp/dir-gzip" >"$seeds/directory/gzip"
pg16="${PG_DUMP16_DIR:-$HOME/.cache/rehearse/pg_dump16}/pgserver/pginstall/bin"
if [[ -x "$pg16/pg_dump" ]]; then
    dump_with "$pg16" -Fc "${two_tables[@]}" >"$seeds/custom/pg16-gzip.dump"
fi

mkdir "$tmp/csv"
for table in models services models_version_backup; do
    "${psql[@]}" -d "$db" -c "\\copy public.$table TO STDOUT WITH (FORMAT csv, HEADER)" >"$tmp/csv/$table.csv"
done
joined "$tmp/csv" >"$seeds/csv_dir/inferred"
dump -s -t public.models -t public.services >"$tmp/csv/schema.sql"
rm "$tmp/csv/models_version_backup.csv"
joined "$tmp/csv" >"$seeds/csv_dir/with-schema"

# One version a line, three to an input, from the precedence cases.
grep -v '^#' "$repo/tests/cases/versions.cases" | awk '$2 != "!" { print $1; print $3 }' | tr -d "'" \
    | split -l 3 -d -a 2 - "$seeds/version/cases-"
du -sh "$seeds"
