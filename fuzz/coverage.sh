#!/usr/bin/env bash
# Line coverage of what the fuzzers reached: builds the harnesses again with coverage mapping
# (no AddressSanitizer) into .build/fuzz-cov, replays fuzz/corpus/<name> plus the inputs the
# last runs found (.build/fuzz/work/<name>), and prints llvm-cov's report for the sources each
# harness targets.   fuzz/coverage.sh [names...]   (FUZZ_COV_SKIP_BUILD=1: reuse the build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/.build/fuzz-cov
want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(frontend backend startup scram config sql)
[[ ${FUZZ_COV_SKIP_BUILD:-0} == 1 ]] || FUZZ_BUILD_DIR=$out FUZZ_SANITIZE=fuzzer FUZZ_EXTRA_FLAGS="-profile-generate -profile-coverage-mapping" \
    fuzz/build.sh "${want[@]}"
bindir=$(dirname "$(readlink -f "$(command -v swiftc)")")
for h in "${want[@]}"; do
    case $h in
        frontend) files=(Sources/PostgresWire/{Framing,FrameDecoder,FrontendMessage,AuthMessages,WireReader}.swift) ;;
        backend) files=(Sources/PostgresWire/{FrameDecoder,BackendMessage,ErrorFields,WireReader}.swift) ;;
        startup) files=(Sources/PostgresWire/{Framing,FrameDecoder,StartupPacket,WireReader}.swift) ;;
        scram) files=(Sources/ProxyCore/Auth/{SCRAM,ClientAuthenticator}.swift Sources/PostgresWire/AuthMessages.swift) ;;
        config) files=($(find Sources/ProxyConfig -name '*.swift' | sort)) ;;
        sql) files=($(find Sources/SQLAnalysis -name '*.swift' | sort)) ;;
    esac
    dirs=("fuzz/corpus/$h")
    [[ -d .build/fuzz/work/$h ]] && dirs+=(".build/fuzz/work/$h")
    rm -f "$out/$h.profraw"
    LLVM_PROFILE_FILE="$out/$h.profraw" "$out/$h" -runs=0 "${dirs[@]}" >/dev/null 2>&1
    "$bindir/llvm-profdata" merge -sparse "$out/$h.profraw" -o "$out/$h.profdata"
    echo "== $h"
    "$bindir/llvm-cov" report "$out/$h" -instr-profile="$out/$h.profdata" "${files[@]}" 2>/dev/null \
        | awk '/^[A-Za-z+]/ && $1 != "Filename" { printf "  %-36s %5d lines  %5.1f%% covered\n", $1, $8, ($8 - $9) * 100 / ($8 ? $8 : 1) }'
done
