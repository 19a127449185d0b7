#!/usr/bin/env bash
# Clean release builds, timed in one run: `apify-core` and `apify-hyper` at a base commit
# and at the work tree's HEAD, and the crates.io `apify-client` 0.15.0 peer (reqwest-based),
# both with its default TLS (native-tls: the system's OpenSSL, no HTTP/2) and with its
# `rustls` feature (like ours: rustls and ring, no system library).
#
#   examples/bench/compile_time.sh [BASE_REV]      # BASE_REV defaults to HEAD~1
#
# Each build gets a fresh target directory; the sources are fetched before timing. Every
# build uses the same release profile, Cargo's default (no debug info), as a dependency
# of a user's program would be built (this workspace's own profile adds line tables).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base_rev="${1:-HEAD~1}"
work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$root" worktree add --detach "$work/base" "$base_rev" >/dev/null 2>&1
peer() { # dir dependency-spec
    mkdir -p "$1/src"
    printf '[package]\nname = "peer-build"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n[dependencies]\napify-client = %s\n[workspace]\n' "$2" >"$1/Cargo.toml"
    # A library re-exporting the peer, built like ours (no binary to link).
    echo 'pub use apify_client;' >"$1/src/lib.rs"
    (cd "$1" && cargo fetch --quiet) || { echo "could not fetch apify-client 0.15.0"; exit 1; }
}
peer "$work/peer" '"=0.15.0"'
peer "$work/peer-rustls" '{ version = "=0.15.0", default-features = false, features = ["rustls"] }'
(cd "$root" && cargo fetch --quiet)
(cd "$work/base" && cargo fetch --quiet)

timed() { # name dir args...
    local name=$1 dir=$2
    shift 2
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$dir" && CARGO_PROFILE_RELEASE_DEBUG=false CARGO_TARGET_DIR="$work/target-$name" cargo build --release --quiet "$@")
    t1=$(date +%s.%N)
    rm -rf "$work/target-$name"
    printf '%s %.1f\n' "$name" "$(echo "$t1 - $t0" | bc)"
}

results=$(
    timed core-base "$work/base" -p apify-core
    timed core-head "$root" -p apify-core
    timed hyper-base "$work/base" -p apify-hyper
    timed hyper-head "$root" -p apify-hyper
    timed peer "$work/peer"
    timed peer-rustls "$work/peer-rustls"
)
echo "$results" | awk -v rev="$base_rev" '
    { t[$1] = $2 }
    END {
        printf "clean release build (s), one run, base = %s\n", rev
        printf "  apify-core    base %6.1f   head %6.1f   head/base %.2f\n", t["core-base"], t["core-head"], t["core-head"] / t["core-base"]
        printf "  apify-hyper   base %6.1f   head %6.1f   head/base %.2f\n", t["hyper-base"], t["hyper-head"], t["hyper-head"] / t["hyper-base"]
        printf "  apify-client 0.15.0, native-tls (default) %6.1f   apify-hyper head / peer %.2f\n", t["peer"], t["hyper-head"] / t["peer"]
        printf "  apify-client 0.15.0, rustls               %6.1f   apify-hyper head / peer %.2f\n", t["peer-rustls"], t["hyper-head"] / t["peer-rustls"]
    }'
