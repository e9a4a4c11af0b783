#!/usr/bin/env bash
# Builds the libFuzzer harnesses under fuzz/<name>/main.swift into .build/fuzz/<name>.
#
# SwiftPM cannot build them: a fuzzer binary takes its main() from libFuzzer, and the
# package's modules are not library products. So each module a harness needs is compiled
# here with swiftc, instrumented (-sanitize=fuzzer,address), into a static library plus its
# .swiftmodule, in dependency order; a harness then imports the modules as the proxy does.
#
#   fuzz/build.sh            build every harness
#   fuzz/build.sh frontend   build one (the modules are rebuilt each time: ~1 min in all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${FUZZ_BUILD_DIR:-$root/.build/fuzz}
mods=$out/modules
mkdir -p "$mods"
SWIFTC=${SWIFTC:-swiftc}
# -O for speed; bounds, overflow and precondition checks stay on in -O. -g for symbolised crashes.
# fuzz/coverage.sh builds a copy with FUZZ_SANITIZE=fuzzer and coverage mapping in FUZZ_EXTRA_FLAGS.
flags=(-sanitize="${FUZZ_SANITIZE:-fuzzer,address}" -O -g -parse-as-library -use-ld=lld -I "$mods" ${FUZZ_EXTRA_FLAGS:-})

module() {   # module NAME [extra swiftc args...] -- sources...
    local name=$1; shift
    local extra=()
    while [[ $1 != -- ]]; do extra+=("$1"); shift; done
    shift
    echo "fuzz/build.sh: module $name" >&2
    "$SWIFTC" "${flags[@]}" "${extra[@]}" -module-name "$name" -emit-library -static \
        -emit-module -emit-module-path "$mods/$name.swiftmodule" -o "$mods/lib$name.a" "$@"
}

harness() {  # harness NAME [link args...]
    local name=$1; shift
    echo "fuzz/build.sh: harness $name" >&2
    "$SWIFTC" "${flags[@]}" -module-name "fuzz_$name" "fuzz/$name/main.swift" -L "$mods" "$@" -o "$out/$name"
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(frontend backend startup scram config sql)
needs() { local w; for w in "${want[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1; }

wire=0 config=0 core=0 sql=0
for w in "${want[@]}"; do
    case $w in
        frontend|backend|startup) wire=1 ;;
        config) config=1 ;;
        scram) wire=1; config=1; core=1 ;;
        sql) sql=1 ;;
        *) echo "fuzz/build.sh: no harness named $w" >&2; exit 2 ;;
    esac
done

if (( wire )); then
    module Buffers -- Sources/Buffers/*.swift
    module PostgresWire -- Sources/PostgresWire/*.swift
fi
if (( config )); then
    module ProxyConfig -- $(find Sources/ProxyConfig -name '*.swift' | sort)
fi
if (( core )); then
    # Only the authentication part of ProxyCore: the rest pulls in SQLAnalysis and libpg_query,
    # and nothing in Auth/ uses it. A harness-only module of the same name keeps `import ProxyCore`.
    module ProxyCore -I Sources/COpenSSL -- Sources/ProxyCore/Auth/*.swift
fi

if (( sql )); then
    module SQLAnalysis -I Sources/CPgQuery -- Sources/SQLAnalysis/*.swift
fi

for w in "${want[@]}"; do
    case $w in
        frontend|backend|startup) harness "$w" -lPostgresWire -lBuffers ;;
        config) harness config -lProxyConfig ;;
        scram) harness scram -I Sources/COpenSSL -lProxyCore -lPostgresWire -lBuffers -lProxyConfig -lssl -lcrypto ;;
        sql) harness sql -I Sources/CPgQuery -lSQLAnalysis ;;
    esac
done
echo "fuzz/build.sh: built ${want[*]} in $out" >&2
