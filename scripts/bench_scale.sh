#!/usr/bin/env bash
# How the compute pipeline grows with N: wall time and peak memory of `knn`, `layout --method
# umap` and `layout --method tsne` (each from the features file to its output, no cache) on
# the first N rows of the seeded clustered set (ivt::synth, 128 dimensions), one size after
# another on this machine. Prints a Markdown table for benches/README.md.
#
#   scripts/bench_scale.sh DATA_DIR [N ...]        (default N: 125000 250000 500000 1000000)
#   STEPS="knn umap" scripts/bench_scale.sh ...     (a subset of knn umap tsne)
#
# DATA_DIR/clustered_N/ is generated when missing (examples/clustered; row i depends on the
# seed and i only, so each size is the first N rows of the next). Needs GNU time
# (/usr/bin/time, Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: scripts/bench_scale.sh DATA_DIR [N ...]}
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(125000 250000 500000 1000000)
read -r -a steps <<< "${STEPS:-knn umap tsne}"
[ -x /usr/bin/time ] || { echo "bench_scale: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

target=${CARGO_TARGET_DIR:-target}
cargo build --release --no-default-features --bin ivt-explore --example clustered >&2
bin=$target/release/ivt-explore
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# One command under GNU time: prints "SECONDS PEAK_MB".
measure() {
    /usr/bin/time -f "%e %M" -o "$out/time" "$@" > "$out/log" 2>&1 || {
        echo "bench_scale: failed: $*" >&2
        cat "$out/log" >&2
        exit 1
    }
    awk '{ printf "%.1f %.0f", $1, $2 / 1024 }' "$out/time"
}

header="| N |"
rule="|---|"
for step in "${steps[@]}"; do
    header+=" $step wall | $step peak |"
    rule+="---|---|"
done
rows=()
for n in "${sizes[@]}"; do
    dir=$data/clustered_$n
    [ -f "$dir/features.npy" ] || "$target/release/examples/clustered" "$dir" "$n" >&2
    row="| $(printf "%'d" "$n") |"
    for step in "${steps[@]}"; do
        case $step in
            knn) cmd=("$bin" knn "$dir" -k 15 --no-cache -o "$out/knn.npy") ;;
            umap) cmd=("$bin" layout "$dir" --method umap --dims 2 --no-cache -o "$out/umap.npy") ;;
            tsne) cmd=("$bin" layout "$dir" --method tsne --dims 2 --no-cache -o "$out/tsne.npy") ;;
            *) echo "bench_scale: unknown step $step (knn, umap, tsne)" >&2; exit 2 ;;
        esac
        read -r secs mb <<< "$(measure "${cmd[@]}")"
        echo "bench_scale: N=$n $step ${secs} s, ${mb} MB" >&2
        grep -E "^(kNN|approximate)" "$out/log" | sed 's/^/    /' >&2 || true
        row+=" ${secs} s | ${mb} MB |"
    done
    rows+=("$row")
done
echo "$header"
echo "$rule"
printf '%s\n' "${rows[@]}"
