#!/usr/bin/env bash
# The local storage's own figures at a base commit and at the work tree's HEAD, measured in
# one run and alternated (base, head, base, head), with the same benchmark program: HEAD's
# `bench_local.rs` is built against both storage engines. For changes to the engine, such
# as the crash-safety of issue 16, whose cost must stay within 10%.
#
#   examples/bench/storage_cost.sh BASE_REV [--quick]
#
# Results go to stdout; each figure is bench_local's median of three fresh processes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base_rev="${1:?usage: storage_cost.sh BASE_REV [--quick]}"
shift
work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$root" worktree add --detach "$work/base" "$base_rev" >/dev/null 2>&1
cp "$root/examples/src/bin/bench_local.rs" "$work/base/examples/src/bin/bench_local.rs"
build() { # dir target
    (cd "$1" && CARGO_TARGET_DIR="$2" cargo build --release --quiet -p apify-examples --bin bench_local)
}
build "$work/base" "$work/target-base"
build "$root" "${CARGO_TARGET_DIR:-$root/target}"
base_bin="$work/target-base/release/bench_local"
head_bin="${CARGO_TARGET_DIR:-$root/target}/release/bench_local"

for round in 1 2; do
    for side in base head; do
        bin="${side}_bin"
        echo "== $side (round $round)"
        "${!bin}" --ours-only "$@" | grep ' ours '
    done
done | tee "$work/out"
awk '
    /^== / { side = $2 }
    / ours / {
        name = $0; sub(/ +ours .*/, "", name)
        relaxed = $0; sub(/.* ours +/, "", relaxed); sub(/ s .*/, "", relaxed)
        full = $0; sub(/.*fsync: +/, "", full); sub(/ s\).*/, "", full)
        r[side, name] += relaxed; f[side, name] += full; names[name] = 1
    }
    END {
        print "\nhead / base (sum of both rounds; 1.00 = no cost)"
        for (n in names) printf "  %-44s relaxed %.2f   fsync %.2f\n", n, r["head", n] / r["base", n], f["head", n] / f["base", n]
    }' "$work/out"
