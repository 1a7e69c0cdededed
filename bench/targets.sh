#!/usr/bin/env bash
# Runs the performance targets of docs/benchmarks.md, each 3 times (the table reports the
# median), against a standalone server the harness starts, with the baseline in the same run.
# Results: bench/results/targets/<target>-<n>.json (and .md, .svg); summary: bench/summary.ts.
# T8 (the upstream scenario) runs its own standalone server and loopback cluster instead, T9
# (the chat scenario) its own loopback clusters, with storage writers and without, and T10/T11
# (issue 11) theirs.
# Takes about 45 minutes on 2 cores. Usage: bash bench/targets.sh [T1 T2 ...] (T4 is T4-10k,
# T4-auth and T4-18k; each can be named alone)
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
out=bench/results/targets
mkdir -p "$out"
run() { # name, args...
  local name=$1; shift
  for i in 1 2 3; do
    echo "== $name run $i: $*" >&2
    node dist/bench/index.js "$@" --quiet --json "$out/$name-$i.json" > /dev/null || echo "($name run $i: exit $?)" >&2
  done
}
want() { [ $# -eq 0 ] || [[ " $* " == *" $1 "* ]]; }
targets=("$@")
# sel NAME...: whether one of the names was asked for (every target when none was)
sel() { [ ${#targets[@]} -eq 0 ] && return 0; for t in "${targets[@]}"; do for n in "$@"; do [ "$t" = "$n" ] && return 0; done; done; return 1; }

sel T1 && run T1 hot-room --connections 10000 --senders 10 --rate 60 --likes 20 --gifts 1 --ramp 5 --duration 10
sel T2 && run T2 hot-room --connections 10000 --senders 10 --rate 6 --likes 0 --gifts 0 --merge-window 0 --env ROOM_DISPLAY_CAP=1000000 --ramp 5 --duration 10
sel T3 && run T3-uniform many-rooms --connections 10000 --rooms 100 --skew uniform --rate 5 --likes 2 --gifts 0.2 --ramp 5 --duration 10
sel T3 && run T3-zipf many-rooms --connections 10000 --rooms 100 --skew zipf --rate 5 --likes 2 --gifts 0.2 --ramp 5 --duration 10
sel T4 T4-10k && run T4-10k hot-room --connections 10000 --senders 1 --rate 0 --likes 0 --gifts 0 --ramp 5 --duration 2 --warmup 0
sel T4 T4-auth && run T4-auth hot-room --connections 10000 --senders 1 --rate 0 --likes 0 --gifts 0 --ramp 5 --duration 2 --warmup 0 --viewer-tokens
sel T4 T4-18k && run T4-18k hot-room --connections 18000 --senders 1 --rate 0 --likes 0 --gifts 0 --ramp 10 --duration 2 --warmup 0 --addresses 8
sel T5 && run T5 flash-crowd --connections 10000 --ramp 10 --duration 5
sel T6 && run T6 hot-room --connections 10 --senders 40 --rate 20000 --likes 0 --gifts 0 --ramp 1 --duration 10 --env ROOM_DISPLAY_CAP=1000000
sel T7 && run T7 cluster --scenario hot-room --gateways 1 --logics 1 --connections 10000 --senders 10 --rate 60 --likes 20 --gifts 1 --ramp 5 --duration 10 --no-baseline
sel T8 && run T8 upstream --connections 200 --rooms 20 --start 2000 --step 2000 --max 40000 --step-seconds 3 --overload-factor 3 --overload 20 --recover-factor 0.5 --recover 15
sel T9 && run T9 chat --groups 20 --members 100 --offline 0.5 --rate 5000 --duration 20 --warmup 5 --catchup 1000
# Issue 11: a gateway killed mid-run, its viewers back on the other with since (T10), or with a
# plain JOIN (T10-plain, a client of before room recovery); the chat's RECEIVED cost (T11).
sel T10 && run T10 cluster --scenario hot-room --faults kill-gateway --gateways 2 --logics 1 --connections 4000 --senders 10 --rate 30 --likes 10 --gifts 5 --ramp 5 --duration 10 --no-baseline
sel T10 T10-plain && run T10-plain cluster --scenario hot-room --faults kill-gateway --no-since --gateways 2 --logics 1 --connections 4000 --senders 10 --rate 30 --likes 10 --gifts 5 --ramp 5 --duration 10 --no-baseline
sel T11 && run T11 chat --groups 10 --members 50 --offline 0.2 --rate 500 --duration 10 --warmup 3 --catchup 0 --no-baseline --ack-baseline
# Issue 13: compressed egress, T1's load with COMPRESSION=shared and clients that offer
# permessage-deflate, then without, then the baseline (wire bytes per item, CPU per frame).
sel T12 && run T12 hot-room --deflate --connections 10000 --senders 10 --rate 60 --likes 20 --gifts 1 --ramp 5 --duration 10
# Issue 13: adaptive degradation, a hot room offered three times what saturates a gateway held
# to a quarter core (a cgroup CPU quota: root only), DEGRADE=on, then DEGRADE=off, in one run.
sel T13 && run T13 hot-room --overload --connections 15000 --senders 20 --rate 100 --likes 20 --gifts 5 --ramp 8 --duration 15 --warmup 3 --addresses 8 --server-cpu 0.25 --env DEGRADE_CPU=0.22
echo "done: node dist/bench/summary.js $out" >&2
