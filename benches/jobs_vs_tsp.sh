#!/usr/bin/env bash
# kiroku's local job queue against task-spooler (`tsp`), driven by this one shell script for
# both tools the same way (one command per submission, times from bash's $EPOCHREALTIME, no
# fork to read the clock):
#
#   1. idle submit-to-start latency: the job is `date +%s%N > FILE`; latency = the time in FILE
#      minus the time just before the submitting command ran; median of N samples, the queue
#      idle before each. The two tools' samples alternate (tsp, kiroku, tsp, …), so both are
#      measured under the same conditions: on a shared virtual machine the cost of a process
#      start drifts by a third within minutes, and N samples of one tool followed by N of the
#      other would compare two different machines. For kiroku also cold (no scheduler
#      process: the submit starts one).
#   2. drain: 200 `true` jobs, 2 slots, submitted one command at a time; time from the first
#      submission until every job has ended.
#      Beside it the CPU the machine was busy with meanwhile (all processes; of it the
#      submitting commands; for kiroku its scheduler, launcher and job supervisors, each with
#      the commands it ran), and two floors of that drain: the tool's client started
#      DRAIN_JOBS times doing nothing (its ratio, to tsp's drain, is the lowest a drain driven
#      this way could reach), and the busy CPU spread evenly over the machine's cores (a
#      drain takes at least that long).
#   3. `kiroku jobs ls` with 1,000 jobs in the store (median of 10, table and JSON).
#   4. the idle scheduler's CPU: ticks used while a job runs and nothing else happens, and
#      whether any scheduler process is left once the queue is empty.
#
# Usage: benches/jobs_vs_tsp.sh [KIROKU_BINARY]   (default: target/release/kiroku; build it
# with `cargo build --release`). Needs `tsp` (Debian package task-spooler). Exits 1 when
# kiroku is more than 2x slower than tsp on 1 or 2, `jobs ls` takes 100 ms or more, or the
# idle scheduler used CPU.
set -euo pipefail

KIROKU=$(realpath "${1:-target/release/kiroku}")
SAMPLES=${SAMPLES:-30}
DRAIN_JOBS=${DRAIN_JOBS:-200}
command -v tsp >/dev/null || { echo "tsp is missing: apt-get install task-spooler" >&2; exit 2; }
[ -x "$KIROKU" ] || { echo "$KIROKU is missing: cargo build --release" >&2; exit 2; }

WORK=$(mktemp -d /tmp/kiroku-bench.XXXXXX)
export TS_SOCKET="$WORK/tsp.socket" TS_SAVELIST="" TMPDIR="$WORK"
PROJECT="$WORK/project"
mkdir -p "$PROJECT"
cleanup() {
    tsp -K >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

now_us() { echo "${EPOCHREALTIME/./}"; }
TICKS=$(getconf CLK_TCK)
CORES=$(nproc)

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d\n", m }'; }

# Waits until FILE is not empty.
wait_file() { while [ ! -s "$1" ]; do sleep 0.002; done; }

cd "$PROJECT"
"$KIROKU" init >/dev/null
printf '[targets.local]\nkind = "local"\ngpus = []\nmax_parallel = 2\n' > kiroku.toml
export KIROKU_STORE="$PROJECT/.kiroku" KIROKU_USER=bench

kiroku_submit() { "$KIROKU" submit -- "$@" >/dev/null; }
tsp_submit() { tsp "$@" >/dev/null; }

kiroku_active() {
    "$KIROKU" jobs ls --status queued --status starting --status running --format json |
        grep -c '"id"' || true
}
tsp_active() { tsp -l | awk 'NR > 1 && ($2 == "running" || $2 == "queued")' | wc -l; }

scheduler_pids() { pgrep -f -- "--store $KIROKU_STORE scheduler" || true; }

# Waits until the tool's queue is empty (looking every 0.1 s: a listing costs kiroku a
# process and a store open, and a tighter loop would mostly measure the looking).
wait_drained() { while [ "$("$1"_active)" != 0 ]; do sleep 0.1; done; }

# sample TOOL PAUSE NAME: one submit-to-start in microseconds, after PAUSE seconds idle.
sample() {
    local tool=$1 pause=$2 f="$WORK/lat-$3" t0 t1
    sleep "$pause"
    t0=$(now_us)
    "$tool"_submit sh -c "date +%s%N > $f"
    wait_file "$f"
    t1=$(($(cat "$f") / 1000))
    echo $((t1 - t0))
    wait_drained "$tool"
}

# latency TOOL PAUSE: median of SAMPLES submit-to-starts of TOOL alone.
latency() {
    local i
    for i in $(seq "$SAMPLES"); do sample "$1" "$2" "$1-$2-$i"; done | median
}

# latency_side_by_side PAUSE: "TSP KIROKU", the medians of SAMPLES alternating samples.
latency_side_by_side() {
    local i
    for i in $(seq "$SAMPLES"); do
        sample tsp "$1" "tsp-$i" >> "$WORK/lat-tsp"
        sample kiroku "$1" "kiroku-$i" >> "$WORK/lat-kiroku"
    done
    echo "$(median < "$WORK/lat-tsp") $(median < "$WORK/lat-kiroku")"
}

# CPU time, in clock ticks, the whole machine has been busy (user, nice, system, irq, softirq).
machine_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# CPU seconds the waited-for children of this shell have used so far (the second line of
# `times`, which must run in this shell itself, not in a `$(…)` of its own).
children_cpu() {
    times > "$WORK/times"
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); sub("s", "", t[2]); s += t[1] * 60 + t[2] } print s }' "$WORK/times"
}

# CPU seconds process PID has used, itself ("self") or its reaped children ("children"); "?"
# when there is no such process (a scheduler that started supervisors without a launcher).
process_cpu() {
    if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
        awk -v which="$2" -v hz="$TICKS" \
            '{ printf "%.2f\n", (which == "self" ? $14 + $15 : $16 + $17) / hz }' "/proc/$1/stat"
    else
        echo "?"
    fi
}

# drain TOOL: "SECONDS BUSY CLIENTS", the time from the first of DRAIN_JOBS submissions until
# all ended, the CPU seconds the machine was busy meanwhile, and those of the submitting
# commands. For kiroku it also leaves the CPU of its scheduler, its launcher and the job
# supervisors (with their commands) in $WORK/parts: they are counted before the scheduler's
# linger ends, and a supervisor the launcher has not reaped yet (the last one or two) is not.
drain() {
    local tool=$1 t0 t1 b0 b1 i scheduler launcher
    children_cpu > "$WORK/clients-before"
    b0=$(machine_busy_ticks)
    t0=$(now_us)
    for i in $(seq "$DRAIN_JOBS"); do "$tool"_submit true; done
    children_cpu > "$WORK/clients-after"
    wait_drained "$tool"
    t1=$(now_us)
    b1=$(machine_busy_ticks)
    if [ "$tool" = kiroku ]; then
        scheduler=$(scheduler_pids | head -1)
        launcher=$( (pgrep -P "${scheduler:-0}" -x kiroku-launcher || true) | head -1)
        echo "$(process_cpu "$scheduler" self) $(process_cpu "$launcher" self)" \
            "$(process_cpu "$launcher" children)" > "$WORK/parts"
    fi
    echo "$(echo "scale=3; ($t1 - $t0) / 1000000" | bc)" \
        "$(echo "scale=2; ($b1 - $b0) / $TICKS" | bc)" "$(echo "scale=2; ($(cat "$WORK/clients-after") - $(cat "$WORK/clients-before")) / 1" | bc)"
}

tsp -S 2 >/dev/null
tsp_submit true; wait_drained tsp   # the tsp server is up

echo "measuring idle submit-to-start latency ($SAMPLES samples each, alternating)..." >&2
read -r tsp_lat kiroku_lat < <(latency_side_by_side 0.05)
kiroku_cold=$(SAMPLES=$((SAMPLES / 3)) latency kiroku 4)

echo "measuring the drain of $DRAIN_JOBS jobs with 2 slots..." >&2
read -r tsp_drain tsp_busy tsp_clients < <(drain tsp)
read -r kiroku_drain kiroku_busy kiroku_clients < <(drain kiroku)
read -r scheduler_cpu launcher_cpu supervisor_cpu < "$WORK/parts"

# The floor under any drain driven this way: starting each tool's client DRAIN_JOBS times,
# one after another, doing nothing (`--version`, `-V`). A drain can be no faster than this.
starts() {
    local t0 t1 i
    t0=$(now_us)
    for i in $(seq "$DRAIN_JOBS"); do "$@" >/dev/null; done
    t1=$(now_us)
    echo "scale=3; ($t1 - $t0) / 1000000" | bc
}
echo "measuring $DRAIN_JOBS bare starts of each client..." >&2
tsp_starts=$(starts tsp -V)
kiroku_starts=$(starts "$KIROKU" --version)

echo "filling the store to 1,000 jobs..." >&2
have=$("$KIROKU" jobs ls --format json | grep -o '"id":' | wc -l)
for i in $(seq $((1000 - have))); do kiroku_submit true; done
wait_drained kiroku
ls_ms() {
    for i in $(seq 10); do
        local t0 t1
        t0=$(now_us)
        "$KIROKU" jobs ls --format "$1" >/dev/null
        t1=$(now_us)
        echo $(((t1 - t0) / 1000))
    done | median
}
jobs_count=$("$KIROKU" jobs ls --format json | grep -o '"id":' | wc -l)
ls_table=$(ls_ms table)
ls_json=$(ls_ms json)

echo "measuring the idle scheduler..." >&2
kiroku_submit sleep 4
sleep 1
pid=$(scheduler_pids | head -1)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
before=$(ticks "$pid")
sleep 2
after=$(ticks "$pid")
busy_ticks=$((after - before))
wait_drained kiroku
sleep 5   # the linger
left=$(scheduler_pids | wc -l)

ratio() { echo "scale=2; $1 / $2" | bc; }
lat_ratio=$(ratio "$kiroku_lat" "$tsp_lat")
drain_ratio=$(ratio "$kiroku_drain" "$tsp_drain")

printf '\n%-46s %12s %12s %8s\n' "measure" "tsp" "kiroku" "ratio"
printf '%-46s %12s %12s %8s\n' "idle submit-to-start, median (ms)" \
    "$(echo "scale=2; $tsp_lat / 1000" | bc)" "$(echo "scale=2; $kiroku_lat / 1000" | bc)" "$lat_ratio"
printf '%-46s %12s %12s %8s\n' "  cold, no scheduler running (ms)" "-" \
    "$(echo "scale=2; $kiroku_cold / 1000" | bc)" "-"
printf '%-46s %12s %12s %8s\n' "drain $DRAIN_JOBS true jobs, 2 slots (s)" "$tsp_drain" "$kiroku_drain" "$drain_ratio"
printf '%-46s %12s %12s %8s\n' "  floor: $DRAIN_JOBS bare client starts (s)" "$tsp_starts" "$kiroku_starts" \
    "$(ratio "$kiroku_starts" "$tsp_drain")"
printf '%-46s %12s %12s %8s\n' "  CPU busy during the drain, all (s)" "$tsp_busy" "$kiroku_busy" \
    "$(ratio "$kiroku_busy" "$tsp_busy")"
printf '%-46s %12s %12s\n' "    of it the submitting commands (s)" "$tsp_clients" "$kiroku_clients"
printf '%-46s %12s %12s\n' "    scheduler / launcher / supervisors (s)" "-" \
    "$scheduler_cpu / $launcher_cpu / $supervisor_cpu"
printf '%-46s %12s %12s %8s\n' "  floor: that CPU spread over $CORES cores (s)" "-" \
    "$(echo "scale=3; $kiroku_busy / $CORES" | bc)" "$(ratio "$(echo "scale=3; $kiroku_busy / $CORES" | bc)" "$tsp_drain")"
printf '%-46s %12s %12s\n' "jobs ls, $jobs_count jobs, table / json (ms)" "-" "$ls_table / $ls_json"
printf '%-46s %12s %12s\n' "idle scheduler CPU over 2 s (ticks)" "-" "$busy_ticks"
printf '%-46s %12s %12s\n' "scheduler processes left when idle" "-" "$left"

fail=0
[ "$(echo "$lat_ratio > 2" | bc)" = 1 ] && { echo "FAIL: latency more than 2x tsp's" >&2; fail=1; }
[ "$(echo "$drain_ratio > 2" | bc)" = 1 ] && { echo "FAIL: drain more than 2x tsp's" >&2; fail=1; }
[ "$ls_table" -ge 100 ] || [ "$ls_json" -ge 100 ] && { echo "FAIL: jobs ls took 100 ms or more" >&2; fail=1; }
[ "$busy_ticks" != 0 ] && { echo "FAIL: the idle scheduler used CPU" >&2; fail=1; }
[ "$left" != 0 ] && { echo "FAIL: a scheduler process stayed after the queue emptied" >&2; fail=1; }
exit $fail
