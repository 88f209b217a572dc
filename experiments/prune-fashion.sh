#!/bin/sh
# The Fashion-MNIST experiments of issue 5 (docs/BENCHMARKS.md, "Importance-extrapolation pruning"):
#   full    full-set scoring run: the true DU/FP of all 60,000 training samples
#   prune   prune-pipeline: 10% seed, extrapolated DU and FP vs random vs full at 50% class-balanced, 3 seeds
#   prune-long  the same with the seed subset trained 60 epochs (the length at which its DU agrees with the
#           full-set run's, see long)
#   prune-long-true  adds to prune-long the runs pruned by the full-set run's DU and FP (--true-scores): what
#           the extrapolation costs, and what the scores are worth with no extrapolation at all; and the
#           extrapolation's quality against the full-set run
#   fracs   seed runs at 5/20/40% (or $FRACS) and their extrapolation quality against the full-set run
#           (the 10% seeds are prune's)
#   long    a 10% seed trained for 60 epochs (the steps of the 20% seed run): does the seed run's length,
#           not its size, decide whether its scores agree with the full-set run's?
#   scale   a 10^6 synthetic pool from Fashion-MNIST: score a 5% seed (FGSM-RS), embed, extrapolate, select
#   mnist-full, mnist-long  the same recipe on MNIST: every sample scored, and a 10% seed trained 60 epochs
#           with its extrapolation quality against the full-set run
#   mnist-fracs  MNIST seed runs at 5/10/20/40% (or $FRACS) trained 15 epochs, and their extrapolation quality
#           against mnist-full (all seed runs first, so that they can run beside mnist-full)
# The full-set runs' scores (the truth every quality figure is measured against) are also kept in
# experiments/reference/ (60,000 float32 each), so that quality stages can run without repeating them.
# Usage: [THREADS=N] [FRACS="0.05 0.2"] [ONLY=0,1] [TRUE="du fp"] experiments/prune-fashion.sh STAGE...
# ONLY runs just those repetitions of prune/prune-long (see --only-seeds), to run them side by side; the
# report is written by a last call without it. FINISHED=1 runs nothing and reports the finished repetitions.
# experiments/results/NAME holds the result.json of every repetition finished in an earlier session (the run
# directories do not outlive a session): copy it into $R/NAME before continuing a run there.
# Each stage resumes where it stopped. On 2 cores run two stages side by side on 1 thread each: SmallCNN
# trains barely faster on 2 threads than on 1 (299 against 283 img/s here). Do not count on nice(1) to
# rank them: with autogroup scheduling, processes in different sessions share the cores equally.
set -eu
B=${BULWARK:-bin/bulwark}
R=${RUNS:-runs}
T=${THREADS:-1}
ONLY=${ONLY:+--only-seeds $ONLY}
[ -z "${FINISHED:-}" ] || ONLY="$ONLY --finished"
TIME="/usr/bin/time -v"
# One training recipe for every scoring and pruning run, so seed and full-set scores are comparable:
# SmallCNN, PGD-AT with 3 steps of 1/12 at ε = 0.1, cosine lr 0.02, trajectories from the training pass.
RECIPE="--arch smallcnn --batch 128 --lr 0.02 --schedule cosine --momentum 0.9 --wd 5e-4
 --adv pgd --eps 0.1 --steps 3 --step-size 1/12 --val-size 500 --trajectory train --score du,fp --threads $T --quiet"
COMMON="--data fashion-mnist $RECIPE"
# Seed runs scored against a full-set run evaluate every 5th epoch only: on 6,000 samples the per-epoch test
# and validation passes are a quarter of the run, and they do not change the training.
SPARSE="--eval-every 5"
# truth NAME M is the file of score M of full-set run NAME (fm-full or mnist-full): the copy kept in
# experiments/reference/ (one path in every session, as --true-scores records it), else the run's own.
truth() {
	if [ -f experiments/reference/$1-scores_$2.npy ]; then echo experiments/reference/$1-scores_$2.npy; else echo $R/$1/scores_$2.npy; fi
}
# quality DIR DATA FULL measures the extrapolation of DIR's seed scores, with DIR's embeddings of the pool,
# against full-set run FULL's scores.
quality() {
	for m in du fp; do
		scores=$1/scores_seed_$m.npy # a prune-pipeline seed directory's
		[ -f $scores ] || scores=$1/scores_$m.npy # bulwark score's
		$B extrapolate --embeddings $1/embeddings.npy --indices $1/seed_indices.npy --scores $scores \
			--true $(truth $3 $m) --data $2 --quality $1/quality_full_$m.json --out $1/all_$m.npy
	done
}
# against_full DIR [DATA FULL] embeds the pool with DIR's seed model and measures the extrapolation of its
# scores against the full-set run's.
against_full() {
	$TIME $B embed --weights $1/model.safetensors --data ${2:-fashion-mnist} --threads $T --quiet --out $1/embeddings.npy
	quality $1 ${2:-fashion-mnist} ${3:-fm-full}
}
# prune_run EPOCHS DIR [FLAGS] is the pruning comparison with the seed subset trained EPOCHS epochs.
prune_run() {
	e=$1 d=$2
	shift 2
	$TIME $B prune-pipeline $COMMON --seed-frac 0.1 --score-epochs $e --prune 0.5 --class-balanced --full \
		--epochs 4 --seeds 3 --seed 1 --eval-n 1000 --eval-steps 20 --apgd-steps 50 $ONLY "$@" --out $d
}
# keep_truth FULL copies a full-set run's scores to experiments/reference/.
keep_truth() {
	mkdir -p experiments/reference
	for m in du fp; do cp $R/$1/scores_$m.npy experiments/reference/$1-scores_$m.npy; done
}
for stage in "$@"; do
case $stage in
full)
	$TIME $B score $COMMON --seed-frac 1 --epochs 15 --seed 1 --out $R/fm-full
	keep_truth fm-full ;;
prune)
	prune_run 15 $R/fm-prune ;;
prune-long)
	prune_run 60 $R/fm-prune-e60 ;;
prune-long-true)
	t=
	for m in ${TRUE:-du fp}; do t=$t${t:+,}$m=$(truth fm-full $m); done
	prune_run 60 $R/fm-prune-e60 --true-scores $t ;;
fracs)
	for f in ${FRACS:-0.05 0.2 0.4}; do
		d=$R/fm-frac$f
		$TIME $B score $COMMON $SPARSE --seed-frac $f --epochs 15 --seed 1 --out $d
		against_full $d
	done ;;
long)
	d=$R/fm-frac0.1-e60
	$TIME $B score $COMMON --seed-frac 0.1 --epochs 60 --val-size 200 --seed 1 --out $d
	against_full $d ;;
mnist-full)
	$TIME $B score --data mnist $RECIPE --seed-frac 1 --epochs 15 --seed 1 --out $R/mnist-full
	keep_truth mnist-full ;;
mnist-long)
	d=$R/mnist-frac0.1-e60
	$TIME $B score --data mnist $RECIPE $SPARSE --seed-frac 0.1 --epochs 60 --val-size 200 --seed 1 --out $d
	against_full $d mnist mnist-full ;;
mnist-fracs)
	fracs=${FRACS:-0.05 0.1 0.2 0.4}
	for f in $fracs; do
		$TIME $B score --data mnist $RECIPE $SPARSE --seed-frac $f --epochs 15 --seed 1 --out $R/mnist-frac$f
	done
	for f in $fracs; do against_full $R/mnist-frac$f mnist mnist-full; done ;;
scale)
	d=$R/fm-scale
	S=synth:fashion-mnist:1000000
	$TIME $B score --data $S --seed-frac 0.05 --arch smallcnn --batch 128 --lr 0.02 --schedule cosine --wd 5e-4 \
		--adv fgsm-rs --eps 0.1 --val-size 500 --epochs 11 --trajectory train --score du --seed 1 --threads $T --quiet --out $d
	$TIME $B embed --weights $d/model.safetensors --data $S --threads $T --quiet --out $d/embeddings.npy
	$TIME $B extrapolate --embeddings $d/embeddings.npy --indices $d/seed_indices.npy --scores $d/scores_du.npy --out $d/all_du.npy
	$TIME $B select --scores $d/all_du.npy --prune 0.5 --class-balanced --data $S --out $d/kept_du.npy ;;
*)
	echo "unknown stage $stage (full, prune, prune-long, prune-long-true, fracs, long, scale, mnist-full, mnist-long, mnist-fracs)" >&2; exit 2 ;;
esac
done
