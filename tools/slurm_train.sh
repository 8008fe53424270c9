#!/usr/bin/env bash
# tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# Env: GPUS (tasks, 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS, PYTHON.
# mmengine reads SLURM_PROCID etc.; port: dist_cfg.port, else MASTER_PORT, else 29500.

NAMES=(PARTITION JOB_NAME CONFIG WORK_DIR)
if (($# < ${#NAMES[@]})); then
    echo "usage: $0 ${NAMES[*]} [train.py options]: missing ${NAMES[*]:$#}" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
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
    "${PYTHON:-python}" -u "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --work-dir="$WORK_DIR" \
    --launcher=slurm "${@:5}"
