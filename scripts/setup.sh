#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test rehearse: libclang (bindgen for
# pg_query), a C/C++ toolchain (bundled DuckDB), PostgreSQL server binaries (tests, validate),
# python3 (fixture generator) and, for the tests, Chromium (report.html rendered headless).
# Installs nothing that is already there.
#
#   scripts/setup.sh              what building and running needs
#   scripts/setup.sh --for-tests  and what the test suite needs
#   scripts/setup.sh --detect     install nothing; print "NAME present|missing" per requirement
#
# Detection looks for the file each step really loads, never a look-alike: bindgen (through
# clang-sys) loads libclang.so or libclang-N.so; Debian's llvm libraries ship libclang-cpp.so.N,
# which is another library and does not do. SETUP_LIB_DIRS (space-separated) replaces the
# directories searched, so that the tests can check the detection on a made-up machine.
set -euo pipefail

lib_dirs="${SETUP_LIB_DIRS:-$(echo /usr/lib/llvm-*/lib /usr/lib/"$(uname -m)"-linux-gnu /usr/lib /usr/local/lib)}"

# bindgen's libclang: libclang.so or libclang-14.so (libclang-dev), not libclang-cpp.so.14.
have_libclang() {
  local dir file
  for dir in $lib_dirs; do
    for file in "$dir"/libclang.so "$dir"/libclang-[0-9]*.so; do
      [ -e "$file" ] && return 0
    done
  done
  [ -n "${SETUP_LIB_DIRS:-}" ] && return 1
  ldconfig -p 2>/dev/null | grep -Eq '^[[:space:]]*libclang(-[0-9.]+)?\.so[[:space:]]'
}
have_command() { command -v "$1" >/dev/null 2>&1; }
have_initdb() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

for_tests=false detect=false
case "${1:-}" in
  --for-tests) for_tests=true ;;
  --detect) detect=true for_tests=true ;;
  "") ;;
  *) echo "setup: unknown option $1 (--for-tests, --detect)" >&2; exit 2 ;;
esac

# package name, then the check that says it is there
requirements=(
  "libclang-dev have_libclang"
  "g++ have_command c++"
  "make have_command make"
  "python3 have_command python3"
)
if $for_tests; then
  requirements+=("postgresql have_initdb" "chromium have_command chromium")
fi

need=()
for requirement in "${requirements[@]}"; do
  read -r package check <<<"$requirement"
  if $check; then state=present; else state=missing need+=("$package"); fi
  $detect && echo "$package $state"
done
$detect && exit 0

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
have_command cargo || { echo "setup: cargo is missing (install Rust with rustup)" >&2; exit 1; }
# pg_dump 16 writes archive format 1.15; Debian 12 ships only PostgreSQL 15 (format 1.14). The
# tests read archives of both: pg_dump 16.2 comes from the pgserver wheel on PyPI, pinned by
# hash, and only its pg_dump, pg_restore and libpq are unpacked (PG_DUMP16_DIR, see tests).
if $for_tests && [ "$(uname -m)" = x86_64 ]; then
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
