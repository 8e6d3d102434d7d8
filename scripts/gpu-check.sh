#!/usr/bin/env bash
# Frame times of the explorer on this machine's GPU at 1920×1080, in one go (issue #21):
#   1. a million points (the seeded clustered set, its UMAP layout), still and panning;
#   2. the same million items zoomed in to their images (one 64 × 64 PNG each), still and panning.
# Bar on a real GPU: ≥ 60 fps (mean ≤ 16.7 ms) for both. Each run prints the adapter that drew
# its frames, so a software fallback (llvmpipe, lavapipe) cannot pass for a GPU figure.
#
#   scripts/gpu-check.sh [DATA_DIR] [FRAMES]    (default: gpu-check-data, 300 frames)
#   scripts/gpu-check.sh --pack DIR             build here, write the two programs to DIR, stop
#
# With a display (DISPLAY or WAYLAND_DISPLAY) the explorer runs in a window, as a user sees it;
# without one it draws offscreen (`--offscreen`: no window, no Xvfb, which most GPU drivers
# cannot present to). IVT_OFFSCREEN=1 draws offscreen even with a display.
#
# Builds release with cargo (a first build takes ~20 min on 2 cores, a few on 16), or, on a
# machine without Rust, takes the programs from IVT_BIN_DIR: `ivt-explore` and `clustered`, as
# files or xz-compressed (`--pack` writes them so: ~25 MB, e.g. for a GPU server with no network).
# Generates DATA_DIR/c1m once (1,000,000 × 128 features and 10⁶ PNGs, ~4.4 GB, ~1 min on 2
# cores), then its layout (DATA_DIR/c1m-umap.npy, kept if there: the set is seeded, so a layout
# made elsewhere fits) and its thumbnail cache (~1 min on 2 cores, ~1.7 GB), both before timing,
# so no frame is timed beside a build. Reruns reuse all of it.
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
    target=${CARGO_TARGET_DIR:-target}
    cargo build --release --bin ivt-explore --example clustered >&2
    bin=$target/release/ivt-explore
    clustered=$target/release/examples/clustered
}

if [ "${1:-}" = "--pack" ]; then
    out=${2:?usage: scripts/gpu-check.sh --pack DIR}
    command -v xz >/dev/null || { echo "gpu-check: --pack needs xz (apt-get install xz-utils)" >&2; exit 1; }
    build
    mkdir -p "$out"
    for program in "$bin" "$clustered"; do
        name=$(basename "$program")
        strip -o "$out/$name.tmp" "$program"
        xz -T0 -6 -c "$out/$name.tmp" >"$out/$name.xz.tmp"
        rm "$out/$name.tmp"
        mv "$out/$name.xz.tmp" "$out/$name.xz"
    done
    ls -l "$out"
    exit 0
fi

data=${1:-gpu-check-data}
frames=${2:-300}
mkdir -p "$data"
if [ -n "${IVT_BIN_DIR:-}" ]; then
    # Unpacked next to the data: the folder given may be read-only.
    mkdir -p "$data/bin"
    for name in ivt-explore clustered; do
        if [ -x "$IVT_BIN_DIR/$name" ]; then
            cp "$IVT_BIN_DIR/$name" "$data/bin/$name"
        elif [ -f "$IVT_BIN_DIR/$name.xz" ]; then
            xz -dc "$IVT_BIN_DIR/$name.xz" >"$data/bin/$name.tmp"
            chmod +x "$data/bin/$name.tmp"
            mv "$data/bin/$name.tmp" "$data/bin/$name"
        else
            echo "gpu-check: IVT_BIN_DIR=$IVT_BIN_DIR has neither $name nor $name.xz" >&2
            exit 1
        fi
    done
    bin=$data/bin/ivt-explore
    clustered=$data/bin/clustered
elif command -v cargo >/dev/null; then
    build
else
    echo "gpu-check: no cargo here; build elsewhere with \`scripts/gpu-check.sh --pack DIR\` and set IVT_BIN_DIR=DIR" >&2
    exit 1
fi
if command -v ldconfig >/dev/null && ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    echo "gpu-check: no Vulkan loader (libvulkan.so.1) on this machine: install libvulkan1" >&2
    exit 1
fi
"$bin" --version >&2

if [ ! -f "$data/c1m/features.npy" ] || [ ! -d "$data/c1m/images" ]; then
    "$clustered" "$data/c1m" --images >&2
fi
if [ ! -f "$data/c1m-umap.npy" ]; then
    "$bin" layout "$data/c1m" --method umap --dims 2 -o "$data/c1m-umap.npy" >&2
fi
# Complete already: a check of each image, seconds.
"$bin" thumbs "$data/c1m" >&2

view=(--size 1920x1080)
if [ -n "${IVT_OFFSCREEN:-}" ] || [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    view+=(--offscreen)
fi

# One measured run: its adapter and its frame line.
measure() {
    local what=$1
    shift
    local out
    out=$(timeout 600 "$bin" open "$data/c1m" --layout "$data/c1m-umap.npy" "$@" "${view[@]}" \
        --bench-frames "$frames" 2>&1) || { echo "$out" >&2; return 1; }
    printf '%-34s %s\n' "$what" "$(grep '^adapter ' <<<"$out" | head -1)"
    # The frame line; offscreen also how long each frame waited for the GPU (0: CPU-bound).
    grep -E '^(frames|waited)' <<<"$out" | sed 's/^/    /'
}

echo "ivt-explore GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), $frames frames at 1920x1080"
measure "1 M points, still"
measure "1 M points, panning" --bench-pan
measure "1 M thumbnails zoomed in, still" --zoom 40 --select 0
measure "1 M thumbnails zoomed in, panning" --zoom 40 --select 0 --bench-pan
echo "bar: mean ≤ 16.7 ms (60 fps) on a real GPU; paste these lines into benches/README.md"
