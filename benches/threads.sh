#!/usr/bin/env bash
# CPU of each ndbsniff thread over a run, in time bins: which stage is the bottleneck when.
#
#   benches/threads.sh [--bin MS] [--hz HZ] -- NDBSNIFF_ARGS...
#
# Samples every thread with `perf record -e cpu-clock` (a software clock: it works in virtual
# machines without hardware counters), then prints one row per bin: for each thread, the share
# of one core it used in that bin (100 = a whole core). Needs perf (Debian: linux-perf) and a
# built ndbsniff (NDBSNIFF=path, default target/release/ndbsniff). The run's output goes to
# /dev/null. Short bins on a short run are coarse: a bin holds HZ * MS / 1000 samples a core.
set -euo pipefail

bin_ms=50
hz=2000
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin_ms=$2; shift 2 ;;
    --hz) hz=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "threads.sh: unknown option $1 (ndbsniff's arguments go after --)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "threads.sh: give ndbsniff's arguments after --" >&2; exit 2; }
[[ $bin_ms =~ ^[1-9][0-9]*$ && $hz =~ ^[1-9][0-9]*$ ]] || { echo "threads.sh: --bin and --hz take positive integers" >&2; exit 2; }
command -v perf >/dev/null || { echo "threads.sh: perf is not installed" >&2; exit 2; }

ndbsniff=${NDBSNIFF:-target/release/ndbsniff}
[ -x "$ndbsniff" ] || { echo "threads.sh: $ndbsniff is not built (cargo build --release)" >&2; exit 2; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT

perf record -q -e cpu-clock -F "$hz" -o "$data" -- "$ndbsniff" "$@" >/dev/null 2>&1
# One sample is 1/hz s of one core: a bin of bin_ms holds at most hz*bin_ms/1000 per thread.
perf script -i "$data" -F comm,time 2>/dev/null | awk -v bin="$bin_ms" -v hz="$hz" '
  {
    t = $NF + 0
    comm = $1
    for (i = 2; i < NF; i++) comm = comm " " $i
    if (start == "") start = t
    b = int((t - start) * 1000 / bin)
    n[b, comm]++
    if (!(comm in seen)) { seen[comm] = 1; names[++k] = comm }
    if (b > last) last = b
  }
  END {
    full = hz * bin / 1000
    printf "%8s", "ms"
    for (i = 1; i <= k; i++) printf " %10s", names[i]
    printf "\n"
    for (b = 0; b <= last; b++) {
      printf "%8d", b * bin
      for (i = 1; i <= k; i++) printf " %10d", 100 * n[b, names[i]] / full
      printf "\n"
    }
  }'
