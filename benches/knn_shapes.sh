#!/usr/bin/env bash
# kNN on a suite of data shapes, against pynndescent, in one run on this machine: for each shape
# (ivt::synth::shapes, seeded; generated into DATA_DIR when missing), the time and recall@k of
#   - `ivt-explore knn` as a user runs it (a fresh process from the .npy, no cache; its own
#     recall estimate as printed), and its graph scored against an exact search;
#   - pynndescent (n_jobs=2; numba compiled on 2,000 rows first, so the time is warm; the
#     fresh-process figure adds the import and that compilation);
#   - faiss-cpu's inverted file and HNSW at a few settings each (scripts/bench_faiss.py), when
#     PYTHON has faiss: a second table after the first;
# all scored on the same 1,000 items by examples/knn_candidates. Prints Markdown tables.
#
#   benches/knn_shapes.sh DATA_DIR [SHAPE|FOLDER ...]   (default: clustered patches isotropic lifted)
#   N=1000000 DIM=128 K=15 METRIC=euclidean PYTHON=.venv/bin/python benches/knn_shapes.sh DATA_DIR
#   TARGET=0.98 benches/knn_shapes.sh DATA_DIR patches   (our search with --target-recall 0.98)
#   FAISS_HNSW=0 …   (faiss's inverted file only: HNSW's build takes minutes at 10⁶ on 2 cores)
#   FAISS=0 …        (no faiss at all: its inverted file alone takes 2–12 minutes a shape at 10⁶)
#
# `lifted` is made in 512 dimensions (DIM is the others'). A FOLDER holding features.npy (e.g. the
# Fashion-MNIST one of scripts/make_datasets.py) is searched whole. PYTHON needs numpy and pynndescent;
# without it only our rows are printed. Needs GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: benches/knn_shapes.sh DATA_DIR [SHAPE ...]}
shift
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(clustered patches isotropic lifted)
n=${N:-1000000}
dim=${DIM:-128}
k=${K:-15}
metric=${METRIC:-euclidean}
python=${PYTHON:-python3}
goal=()
[ -n "${TARGET:-}" ] && goal=(--target-recall "$TARGET")
[ -x /usr/bin/time ] || { echo "knn_shapes: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

target=${CARGO_TARGET_DIR:-target}
cargo build --release --no-default-features --bin ivt-explore --example clustered \
    --example knn_candidates >&2
bin=$target/release/ivt-explore
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
have_peer=1
"$python" -c "import pynndescent" 2>/dev/null || {
    have_peer=0
    echo "knn_shapes: $python has no pynndescent: its rows are left out" >&2
}
have_faiss=1
[ "${FAISS:-1}" = 0 ] && have_faiss=0
[ $have_faiss = 0 ] || "$python" -c "import faiss" 2>/dev/null || {
    have_faiss=0
    echo "knn_shapes: $python has no faiss: its table is left out" >&2
}
faiss_rows=""

echo "| shape ($metric${TARGET:+, target $TARGET}) | N × D | ivt-explore knn | its estimate | recall@$k | pynndescent (warm) | (fresh process) | recall@$k | speed-up (warm) |"
echo "|---|---|---|---|---|---|---|---|---|"
for shape in "${shapes[@]}"; do
    if [ -f "$shape/features.npy" ]; then
        # A real data set's folder, all of its rows.
        dir=$shape
        read -r rows d < <("$python" -c "import numpy as np, sys; print(*np.load(sys.argv[1], mmap_mode='r').shape)" "$dir/features.npy")
        shape=$(basename "$dir")
    else
        rows=$n
        d=$dim
        [ "$shape" = lifted ] && d=512
        dir=$data/${shape}_${n}x$d
        if [ ! -f "$dir/features.npy" ]; then
            "$target/release/examples/clustered" "$dir" "$n" "$d" 1000 0 --shape "$shape" >&2
        fi
    fi
    /usr/bin/time -f "%e %M" -o "$out/time" \
        "$bin" knn "$dir/features.npy" -k "$k" --metric "$metric" "${goal[@]}" --no-cache -o "$out/ours.npy" > "$out/log" 2>&1 || {
        cat "$out/log" >&2
        exit 1
    }
    ours=$(awk '{ printf "%.1f", $1 }' "$out/time")
    estimate=$(grep -o 'estimated recall@[0-9]* [0-9.]*' "$out/log" | awk '{ print $3 }' || true)
    search=$(grep -o 'approximate kNN graph ([^)]*)' "$out/log" | sed 's/.*(\(.*\))/\1/' || true)
    methods=("file:$out/ours.npy")
    peer="–"
    fresh="–"
    if [ $have_peer = 1 ]; then
        "$python" scripts/bench_pynndescent.py "$dir/features.npy" "$rows" "$k" "$out/peer.npy" \
            "$metric" > "$out/peer.log"
        peer=$(grep -o '[0-9.]* s (after' "$out/peer.log" | grep -o '^[0-9.]*')
        fresh=$(grep -o 'fresh [0-9.]*' "$out/peer.log" | awk '{ print $2 }')
        methods+=("file:$out/peer.npy")
    fi
    faiss_names=()
    faiss_times=()
    if [ $have_faiss = 1 ]; then
        hnsw=()
        [ "${FAISS_HNSW:-1}" = 0 ] && hnsw=(--no-hnsw)
        "$python" scripts/bench_faiss.py "$dir/features.npy" "$rows" "$k" "$out/faiss" "$metric" \
            "${hnsw[@]}" > "$out/faiss.log"
        while IFS=$'\t' read -r name secs path; do
            faiss_names+=("$name")
            faiss_times+=("$secs")
            methods+=("file:$path")
        done < <(grep -v '^#' "$out/faiss.log")
    fi
    METRIC=$metric "$target/release/examples/knn_candidates" "$dir/features.npy" "$rows" "$k" "${methods[@]}" \
        > "$out/scores" 2>/dev/null
    recall_ours=$(sed -n 1p "$out/scores" | grep -o 'recall@[0-9]* [0-9.]*' | awk '{ print $2 }')
    recall_peer=$(sed -n 2p "$out/scores" | grep -o 'recall@[0-9]* [0-9.]*' | awk '{ print $2 }')
    ratio="–"
    [ "$peer" != "–" ] && ratio=$(awk -v a="$peer" -v b="$ours" 'BEGIN { printf "%.2f×", a / b }')
    echo "| $shape | $rows × $d | $ours s (${search:-exact}) | ${estimate:-exact} | ${recall_ours:-?} | $peer s | $fresh s | ${recall_peer:-–} | $ratio |"
    # The faiss graphs were scored after ours (and pynndescent's, when there).
    first=$((2 + have_peer))
    for j in "${!faiss_names[@]}"; do
        recall=$(sed -n "$((first + j))p" "$out/scores" | grep -o 'recall@[0-9]* [0-9.]*' | awk '{ print $2 }')
        speed=$(awk -v a="${faiss_times[$j]}" -v b="$ours" 'BEGIN { printf "%.2f×", a / b }')
        faiss_rows+="| $shape | ${faiss_names[$j]} | ${faiss_times[$j]} s | ${recall:-?} | $ours s at ${recall_ours:-?} | $speed |"$'\n'
    done
done
if [ -n "$faiss_rows" ]; then
    echo
    echo "| shape ($metric) | faiss-cpu | time (build + search) | recall@$k | ivt-explore knn (above) | its speed-up |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$faiss_rows"
fi
