# shellcheck shell=bash
# Throw-away PostgreSQL 15 cluster, shared by fixtures/make_example.sh and scripts/bench.sh.
# Source it: it only defines functions. Callers set their own traps and call scratch_pg_stop
# from their cleanup. Functions return 1 instead of exiting so each caller reports its own way.
#
#   scratch_pg_find_bindir [extra-binary...]  sets bindir (installs PostgreSQL 15 with apt if absent)
#   scratch_pg_start <tmpdir> <logdir>        initdb + start on a free port; sets run, port, started
#   scratch_pg_stop                           immediate stop if started; never fails

# Echoes the first PostgreSQL 15 bin dir holding initdb, pg_ctl, postgres and "$@".
scratch_pg_locate() {
    local d b ok
    for d in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
        [[ -n "$d" ]] || continue
        ok=1
        for b in initdb pg_ctl postgres "$@"; do
            [[ -x "$d/$b" ]] || { ok=""; break; }
        done
        if [[ -n "$ok" ]] && "$d/postgres" --version | grep -q ' 15\.'; then
            echo "$d"; return 0
        fi
    done
    return 1
}

# shellcheck disable=SC2120  # the extra binaries are optional
scratch_pg_find_bindir() {
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    bindir="$(scratch_pg_locate "$@")" && return 0
    echo "PostgreSQL 15 not found; installing it with apt-get" >&2
    $sudo apt-get update -qq || return 1
    # Older distributions name the package "postgresql"; the version check above still applies.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >/dev/null \
        || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null \
        || return 1
    bindir="$(scratch_pg_locate "$@")" || { echo "no PostgreSQL 15 binaries after install" >&2; return 1; }
}

scratch_pg_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# shellcheck disable=SC2034  # port is read by the caller
scratch_pg_start() {
    local p
    scratch_pg_dir="$1"
    local logdir="$2"
    run=(); port=""; started=""
    # postgres refuses to run as root.
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$scratch_pg_dir" || return 1
        run=(runuser -u postgres --)
    fi
    cd "$scratch_pg_dir" || return 1   # the postgres user must be able to stat its cwd
    "${run[@]}" "$bindir/initdb" -D "$scratch_pg_dir/data" -U postgres --auth=trust -E UTF8 --no-locale \
        >"$logdir/initdb.log" 2>&1 \
        || { cat "$logdir/initdb.log" >&2; echo "initdb failed" >&2; return 1; }
    for p in $(seq 54329 54499); do
        scratch_pg_port_free "$p" || continue
        [[ -e "$scratch_pg_dir/.s.PGSQL.$p" ]] && continue
        # Sockets only (no TCP), and durability off: the cluster is thrown away.
        if "${run[@]}" "$bindir/pg_ctl" -D "$scratch_pg_dir/data" -l "$scratch_pg_dir/server.log" -w -t 60 \
            -o "-c listen_addresses='' -c unix_socket_directories='$scratch_pg_dir' -p $p -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null; then
            port=$p; started=1; return 0
        fi
    done
    cat "$scratch_pg_dir/server.log" >&2 || true
    return 1
}

scratch_pg_stop() {
    [[ -n "${started:-}" ]] || return 0
    (cd "$scratch_pg_dir" && "${run[@]}" "$bindir/pg_ctl" -D "$scratch_pg_dir/data" -m immediate -w stop >/dev/null 2>&1) || true
}
