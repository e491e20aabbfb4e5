#!/usr/bin/env bash
# Builds the W8A16 kernel microbenchmark from the CKernels sources (-O2, as SwiftPM's release
# build) and runs it: Benchmarks/GEMM16/run.sh [rounds]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
${CC:-clang} -O2 -std=gnu11 -I"$root/Sources/CKernels/include" "$root/Benchmarks/GEMM16/gemm16_bench.c" \
    "$root"/Sources/CKernels/*.c -o "$out/gemm16_bench" -lm -lpthread
"$out/gemm16_bench" "${1:-7}"
