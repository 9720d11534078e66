#!/usr/bin/env bash
# make test's stage runner. Each argument is a stage, name:budget (the budget in seconds on this machine kind, 2 cores),
# or a group of stages joined by "+", run at once (stages that leave a core idle: lint, sanity, build and docs are
# mostly one process each). Stages and groups run in the order given; the first failure stops the run.
# A grouped stage writes to build/stages/<stage>.log, printed whole when the group ends (failed stages last, so their
# end is what a CI log shows at its bottom). Every stage's wall time (from its group's start) is printed against its
# budget, then the total against the sum of the budgets (a group counts its largest).
# A stage over its budget is said, not failed.
#   stages.sh MAKE STAGE[:BUDGET][+STAGE:BUDGET...]...
set -uo pipefail
make_cmd=${1:?usage: stages.sh MAKE STAGES...}
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
logs="$root/build/stages"
started=$(date +%s)
times=""
budget_total=0

report() {  # stage budget seconds
  local over=""
  [ "$3" -le "$2" ] || over=" OVER BUDGET"
  times="$times $1=$3/$2s"
  echo "make test: stage $1 passed in $3 s (budget $2 s)$over"
}

for group in "$@"; do
  IFS=+ read -r -a stages <<<"$group"
  if [ "${#stages[@]}" -eq 1 ]; then
    stage=${group%%:*} budget=${group##*:}
    budget_total=$((budget_total + budget))
    t0=$(date +%s)
    if ! $make_cmd --no-print-directory "$stage" COVERAGE=1; then
      echo "make test: stage $stage FAILED after $(($(date +%s) - t0)) s (budget $budget s)"
      exit 1
    fi
    report "$stage" "$budget" $(($(date +%s) - t0))
    continue
  fi
  mkdir -p "$logs"
  names=() pids=()
  t0=$(date +%s)
  for entry in "${stages[@]}"; do
    stage=${entry%%:*}
    names+=("$stage")
    rm -f "$logs/$stage.log" "$logs/$stage.end"
    ( $make_cmd --no-print-directory "$stage" COVERAGE=1 >"$logs/$stage.log" 2>&1
      rc=$?
      echo "$rc $(date +%s)" >"$logs/$stage.end"
      exit "$rc" ) &
    pids+=($!)
  done
  echo "make test: stages ${names[*]} started at once (logs: build/stages/)"
  for pid in "${pids[@]}"; do wait "$pid"; done
  failed=() group_budget=0
  for entry in "${stages[@]}"; do
    stage=${entry%%:*} budget=${entry##*:}
    [ "$budget" -le "$group_budget" ] || group_budget=$budget
    read -r rc t1 <"$logs/$stage.end"
    if [ "$rc" -ne 0 ]; then failed+=("$stage:$((t1 - t0))") && continue; fi
    echo "===== $stage (build/stages/$stage.log) ====="
    cat "$logs/$stage.log"
    report "$stage" "$budget" $((t1 - t0))
  done
  for entry in "${failed[@]}"; do
    stage=${entry%%:*}
    echo "===== $stage (build/stages/$stage.log) ====="
    cat "$logs/$stage.log"
    echo "make test: stage $stage FAILED after ${entry##*:} s"
  done
  [ "${#failed[@]}" -eq 0 ] || exit 1
  budget_total=$((budget_total + group_budget))  # a group's stages share its time: its budget is their largest
done
echo "make test: all gates passed in $(($(date +%s) - started)) s (budget $budget_total s):$times"
