#!/bin/sh
# bench.sh: the cluster measurements of issue 16, for a quiet machine.
#
#   1. embed + extrapolate of a synthetic pool of $POOL samples, single-process
#      (bulwark) against prism (bulwark-cluster), at 1 and 2 kernel threads;
#   2. a 6-seed grid (6 preparation and 12 arm jobs) against bulwark prune-pipeline,
#      at 1 and 2 threads;
#   3. Beam's overhead: the same pipelines on a 640-sample pool.
#
# Wall time, peak RSS and CPU use (the parallelism a run got) come from GNU time (-v).
# Results: $OUT/results.tsv.
# Needs bin/bulwark (make build) and bin/bulwark-cluster
# (cd cluster && CGO_ENABLED=0 go build -o ../bin/bulwark-cluster ./cmd/bulwark-cluster),
# and Fashion-MNIST (make data).
set -eu
cd "$(dirname "$0")/.."
POOL=${POOL:-1000000}
OUT=${OUT:-runs/cluster-bench}
B=./bin/bulwark
C=./bin/bulwark-cluster
TIME=/usr/bin/time
[ -x "$B" ] && [ -x "$C" ] || { echo "build bin/bulwark and bin/bulwark-cluster first" >&2; exit 1; }
[ -x "$TIME" ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
mkdir -p "$OUT"
RES=$OUT/results.tsv
printf 'what\tthreads\twall_s\tpeak_rss_mib\tcpu_percent\n' > "$RES"

# measure NAME THREADS CMD...: run CMD under GNU time and append a row.
measure() {
	name=$1 threads=$2; shift 2
	log=$OUT/$name.t$threads.log
	$TIME -v "$@" > "$log" 2>&1 || { echo "$name failed, see $log" >&2; exit 1; }
	wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$log" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
	cpu=$(sed -n 's/.*Percent of CPU this job got: //p' "$log")
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$threads" "$wall" "$((rss / 1024))" "$cpu" >> "$RES"
	printf '%-28s threads=%s wall=%ss peak=%sMiB cpu=%s\n' "$name" "$threads" "$wall" "$((rss / 1024))" "$cpu"
}

# A model to embed with: one short training run on the real base set.
MODEL=$OUT/model
[ -f "$MODEL/model.safetensors" ] || $B train --data 'fashion-mnist[balanced:2000]' --arch resnet8 --width 0.5 \
	--epochs 2 --batch 128 --quiet --out "$MODEL"
W=$MODEL/model.safetensors

for n in "$POOL" 640; do
	SPEC="synth:fashion-mnist[balanced:2000]:$n"
	tag=$([ "$n" = 640 ] && echo overhead || echo pool$n)
	# Scores of a 10% seed (every 10th sample), for the extrapolation.
	SEEDS=$OUT/$tag.idx.npy SCORES=$OUT/$tag.scores.npy
	${PYTHON:-python3} - "$n" "$SEEDS" "$SCORES" <<'PY' || { echo "needs python3 with numpy for the seed files (set PYTHON)" >&2; exit 1; }
import sys, numpy as np
n = int(sys.argv[1]); idx = np.arange(0, n, 10, dtype=np.int64)
np.save(sys.argv[2], idx); np.save(sys.argv[3], np.random.default_rng(0).random(len(idx), dtype=np.float32))
PY
	for t in 1 2; do
		measure "$tag.embed.bulwark" $t $B embed --weights $W --data "$SPEC" --threads $t --quiet --out $OUT/$tag.emb.b.npy
		measure "$tag.embed.cluster" $t $C embed --weights $W --data "$SPEC" --threads $t --out $OUT/$tag.emb.c.npy
		cmp $OUT/$tag.emb.b.npy $OUT/$tag.emb.c.npy
		measure "$tag.extrapolate.bulwark" $t env GOMAXPROCS=$t $B extrapolate --embeddings $OUT/$tag.emb.b.npy \
			--indices $SEEDS --scores $SCORES --out $OUT/$tag.all.b.npy
		measure "$tag.extrapolate.cluster" $t env GOMAXPROCS=$t $C extrapolate --embeddings $OUT/$tag.emb.b.npy \
			--indices $SEEDS --scores $SCORES --out $OUT/$tag.all.c.npy
		cmp $OUT/$tag.all.b.npy $OUT/$tag.all.c.npy
	done
done

# A 6-seed grid: six repetitions of a small experiment, two arms each.
GRID="--data synth:fashion-mnist[balanced:500]:2000 --arch smallcnn --adv pgd --eps 0.1 --steps 3 --batch 128 \
 --epochs 4 --score-epochs 8 --window 4 --seed-frac 0.2 --prune 0.5 --select top --seeds 6 \
 --val-size 200 --eval-n 500 --eval-steps 10 --apgd-steps 0 --quiet"
for t in 1 2; do
	rm -rf $OUT/grid.b.t$t $OUT/grid.c.t$t
	measure grid6.bulwark $t $B prune-pipeline $GRID --threads $t --out $OUT/grid.b.t$t
	measure grid6.cluster $t $C grid $GRID --threads $t --out $OUT/grid.c.t$t
done
echo "results: $RES"
