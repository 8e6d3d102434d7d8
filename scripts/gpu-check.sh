#!/usr/bin/env bash
# Frame times of the explorer on this machine's GPU at 1920×1080, in one go (issue #21):
#   1. a million points (the seeded clustered set, its UMAP layout), still and panning;
#   2. the same million items zoomed in to their images (one 64 × 64 PNG each), still and panning.
# Bar on a real GPU: ≥ 60 fps (mean ≤ 16.7 ms) for both. Each run prints the adapter it used,
# so a software fallback (llvmpipe) cannot pass for a GPU figure.
#
#   scripts/gpu-check.sh [DATA_DIR] [FRAMES]      (default: gpu-check-data, 300 frames)
#
# Builds release (a first build takes ~20 min on 2 cores, a few on 16). Generates DATA_DIR/c1m
# once (1,000,000 × 128 features and 10⁶ PNGs, ~4.4 GB, ~1 min on 2 cores), then its layout
# (~1.5 min on 2 cores, with the kNN graph into the default cache, which the timed runs reuse)
# and its thumbnail cache (~1 min on 2 cores, ~1.7 GB): built before timing, so no frame is
# timed beside a build. Reruns reuse all of it. Needs a display: a desktop session, or a GPU X
# server. Under Xvfb, Vulkan falls back to llvmpipe on most drivers — the adapter line says so.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-gpu-check-data}
frames=${2:-300}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --bin ivt-explore --example clustered >&2
bin=$target/release/ivt-explore
mkdir -p "$data"
if [ ! -f "$data/c1m/features.npy" ] || [ ! -d "$data/c1m/images" ]; then
    "$target/release/examples/clustered" "$data/c1m" --images >&2
fi
if [ ! -f "$data/c1m-umap.npy" ]; then
    "$bin" layout "$data/c1m" --method umap --dims 2 -o "$data/c1m-umap.npy" >&2
fi
# Complete already: a check of each image, seconds.
"$bin" thumbs "$data/c1m" >&2
run=()
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    echo "gpu-check: no display; trying xvfb-run (likely software Vulkan, see the adapter line)" >&2
    run=(xvfb-run -a -s "-screen 0 1920x1080x24")
fi

# One measured run: its adapter and its frame line.
measure() {
    local what=$1
    shift
    local out
    out=$(RUST_LOG=bevy_render=info "${run[@]}" "$bin" open "$@" --size 1920x1080 \
        --bench-frames "$frames" 2>&1) || { echo "$out" >&2; return 1; }
    local adapter
    adapter=$(grep -o 'AdapterInfo { name: "[^"]*"' <<<"$out" | head -1 | sed 's/.*name: //')
    printf '%-34s %s\n    %s\n' "$what" "${adapter:-adapter ?}" "$(grep '^frames' <<<"$out")"
}

echo "ivt-explore GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), $frames frames at 1920x1080"
measure "1 M points, still" "$data/c1m" --layout "$data/c1m-umap.npy"
measure "1 M points, panning" "$data/c1m" --layout "$data/c1m-umap.npy" --bench-pan
measure "1 M thumbnails zoomed in, still" "$data/c1m" --layout "$data/c1m-umap.npy" --zoom 40 --select 0
measure "1 M thumbnails zoomed in, panning" "$data/c1m" --layout "$data/c1m-umap.npy" --zoom 40 --select 0 --bench-pan
echo "bar: mean ≤ 16.7 ms (60 fps) on a real GPU; paste these lines into benches/README.md"
