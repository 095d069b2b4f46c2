set -e
P=${P:-.venv/bin/policysearch}
D=${1:?folder}
rm -rf $D; mkdir -p $D
$P train cem --env FrozenLake-v1 --seed 1 --max-iterations 3 --set n_sessions=60 --set n_simulations=5 --set elite_memory=3 --set lambda=0.4 --out $D/cem-tabular --quiet --eval-episodes 100
$P train cem --env CartPole-v1 --seed 1 --max-iterations 2 --set n_sessions=30 --set hidden=[8] --set elite_memory=2 --set normalize_obs=true --out $D/cem-mlp --quiet
$P train cem --env policysearch/CartPoleNoVelocity-v1 --policy gru --seed 1 --max-iterations 2 --set n_sessions=20 --set hidden=[8] --out $D/cem-gru --quiet
$P train cem --env Pendulum-v1 --seed 1 --max-iterations 2 --set n_sessions=20 --set start_groups=5 --set sigma=network --set hidden=[8] --set n_simulations=2 --set param_noise=0.1 --set normalize_obs=true --set elite_memory=2 --out $D/cem-gaussian --quiet
$P train es --env CartPole-v1 --seed 1 --max-iterations 2 --set population=10 --set hidden=[8] --set common_starts=true --set noise_table_size=100000 --out $D/es-mlp --quiet
$P train cmaes --env CartPole-v1 --policy linear --seed 1 --max-iterations 2 --out $D/cmaes-linear --quiet
for r in $D/*; do rm -f $r/learning_curve.png; $P evaluate $r --episodes 100 > $r/evaluate.json; done
du -sh $D/*
# evaluate-32bit-seeds.json in each folder: `evaluate $r --episodes 100` with the reset seeds below 2**32 (issue 23).
# continued.jsonl in each folder: metrics.jsonl after `train --resume DIR --max-iterations N+2` with this release.
