#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test rehearse: libclang (bindgen for
# pg_query), a C/C++ toolchain (bundled DuckDB), PostgreSQL server binaries (tests, validate),
# python3 (fixture generator) and, for the tests, Chromium (report.html rendered headless).
# Installs nothing that is already there.
set -euo pipefail

need=()
have_libclang() { ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so'; }
have_libclang || need+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "${1:-}" = "--for-tests" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo is missing (install Rust with rustup)" >&2; exit 1; }

# pg_dump 16 writes archive format 1.15; Debian 12 ships only PostgreSQL 15 (format 1.14). The
# tests read archives of both: pg_dump 16.2 comes from the pgserver wheel on PyPI, pinned by
# hash, and only its pg_dump, pg_restore and libpq are unpacked (PG_DUMP16_DIR, see tests).
if [ "${1:-}" = "--for-tests" ] && [ "$(uname -m)" = x86_64 ]; then
  pg16="${PG_DUMP16_DIR:-$HOME/.cache/rehearse/pg_dump16}"
  if [ ! -x "$pg16/pgserver/pginstall/bin/pg_dump" ]; then
    echo "setup: fetching pg_dump 16 (pgserver 0.1.4 wheel, PyPI) into $pg16" >&2
    python3 -m pip --version >/dev/null 2>&1 || {
      sudo=""
      [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
    }
    wheels="$(mktemp -d)"
    trap 'rm -rf "$wheels"' EXIT
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux2014_x86_64 -d "$wheels" pgserver==0.1.4
    python3 - "$wheels" "$pg16" <<'PY'
import hashlib, os, pathlib, sys, zipfile
wheels, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(wheels.glob("pgserver-0.1.4-*.whl"))
digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
expected = "d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813"
if digest != expected:
    sys.exit(f"setup: {wheel.name} has sha256 {digest}, expected {expected}")
wanted = ("pgserver/pginstall/bin/pg_dump", "pgserver/pginstall/bin/pg_restore", "pgserver.libs/")
staging = dest.with_name(dest.name + ".partial")
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member == wanted[0] or member == wanted[1] or member.startswith(wanted[2]):
            os.chmod(archive.extract(member, staging), 0o755)
os.replace(staging, dest)
PY
  fi
fi
