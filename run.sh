#!/usr/bin/env bash
# skelnb: one command to set up and run the main job, one to set up and run every test.
#   bash run.sh main [--raw PATH] [--out PATH] [--jobs N]   set up, prepare NW-UCLA (once), run the quickstart plan
#                                                and its report (papermill_runs/quickstart/report/); again: reuses
#                                                every complete entry
#   bash run.sh test [PYTEST ARGS]               set up and run every test (notebooks + tests/)
#   bash run.sh lab [JUPYTER LAB OPTIONS]        set up, then JupyterLab on the project folder, open on nbs/, in the
#                                                project's environment
#   bash run.sh setup                            only set up (.venv with CPU torch, the package and its dev tools)
# Both are idempotent: setup is skipped while settings.ini, setup.py and this file are unchanged.
# Environment: PYTHON (default python3.11), SKELNB_VENV (default .venv), TORCH_SPEC (default torch==2.13.0),
#   TORCH_INDEX_URL (a PyTorch wheel index for your CUDA or for CPU-only wheels; see README).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${SKELNB_VENV:-.venv}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then "${PYTHON:-python3.11}" -m venv "$VENV"; fi
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  local want stamp="$VENV/.skelnb-setup"
  want=$(cat settings.ini setup.py run.sh | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && python -c "import skelnb, torch" 2>/dev/null; then return; fi
  if ! python -c "import torch" 2>/dev/null; then
    # torch first, so that installing the package never pulls a torch build of its own choosing
    python -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  fi
  python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
}

cmd=${1:-main}; shift || true
case "$cmd" in
  setup) setup ;;
  main)
    setup
    raw=../shared/data/nw_ucla; out=prepared; jobs=2
    while [ $# -gt 0 ]; do
      case "$1" in
        --raw) raw=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        *) echo "run.sh main: unknown option $1 (use --raw PATH, --out PATH, --jobs N)" >&2; exit 2 ;;
      esac
    done
    # prepare only once: both split folders complete (meta.json and the arrays) means done
    if python -c "import sys; from skelnb.data.store import is_complete as c; sys.exit(not all(c(f'$out/nw-ucla-hiclr/xview/{s}') for s in ('train', 'val')))"; then
      echo "prepared NW-UCLA found in $out/nw-ucla-hiclr: not prepared again"
    else
      skelnb prepare nw-ucla --raw "$raw" --out "$out" --pipeline hiclr
      skelnb doctor "$out/nw-ucla-hiclr"
    fi
    start=$SECONDS
    status=0
    # the quickstart: pretrain 4 methods, evaluate; complete entries (with result.json) are skipped
    skelnb run quickstart --data-root "$out" --jobs "$jobs" || status=$?
    skelnb report quickstart
    echo "main job: $((SECONDS - start)) s after set-up and preparation; report: papermill_runs/quickstart/report/report.md"
    exit $status
    ;;
  test)
    setup
    python -m pytest tests "$@"
    ;;
  lab)
    setup
    # the server, and so its default kernel, run on the venv's python: notebooks import this checkout's skelnb
    echo "JupyterLab on this folder, open on nbs/, with $VENV's python; open the URL it prints (with its token)." \
      "Ctrl-C stops it."
    root=(); if [ "$(id -u)" -eq 0 ]; then root=(--allow-root); fi  # jupyter refuses root unless told (containers)
    # tools/jupyter/jupyter_server_config.py: a notebook of nbs/ is saved cleaned as nbdev_clean leaves it, so that
    # opening one (its kernel rewrites its metadata) and saving it leaves it unchanged
    export JUPYTER_CONFIG_PATH="$PWD/tools/jupyter${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
    # the project folder as root: the notebooks (nbs/) and the executed experiment notebooks (papermill_runs/)
    exec python -m jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/nbs "${root[@]}" "$@"
    ;;
  *) echo "usage: bash run.sh {main|test|lab|setup} [options]" >&2; exit 2 ;;
esac
