#!/usr/bin/env bash
# tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# Env: GPUS (tasks, 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS, PYTHON.
# mmengine reads SLURM_PROCID etc.; port: dist_cfg.port, else MASTER_PORT, else 29500.

NAMES=(PARTITION JOB_NAME CONFIG CHECKPOINT)
if (($# < ${#NAMES[@]})); then
    echo "usage: $0 ${NAMES[*]} [test.py options]: missing ${NAMES[*]:$#}" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
# Several srun options: split on whitespace, without pathname expansion.
read -r -d '' -a SRUN_OPTIONS <<< "${SRUN_ARGS:-}"

exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${SRUN_OPTIONS[@]}" \
    "${PYTHON:-python}" -u "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher=slurm "${@:5}"
