#!/usr/bin/env bash
# Two ndbsniff builds on the same arguments, run in pairs (A B, then B A, ...), for a ratio that
# holds on a noisy machine: each pair runs close together, so a drift of the machine's speed
# moves both, and each build runs first in half of the pairs.
#
#   benches/ab.sh [--runs N] A_BINARY B_BINARY -- NDBSNIFF_ARGS...
#
# Prints each build's median and range of wall seconds (the shell's microsecond clock) and peak
# RSS (/usr/bin/time), and the median of the per-pair ratios A/B. Output of the runs goes to
# /dev/null. One warm-up pair is run first and not counted (it also puts the capture in the page
# cache). Needs bash 5 (EPOCHREALTIME).
set -euo pipefail

runs=10
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: --runs takes a positive integer" >&2; exit 2; }
[ $# -ge 3 ] && [ "$3" = "--" ] || { echo "usage: benches/ab.sh [--runs N] A_BINARY B_BINARY -- NDBSNIFF_ARGS..." >&2; exit 2; }
a=$1 b=$2
shift 3
for x in "$a" "$b"; do
  [ -x "$x" ] || { echo "ab.sh: $x is not an executable" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "ab.sh: /usr/bin/time is not installed (Debian: apt-get install time)" >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out" "$out.rss"' EXIT
"$a" "$@" >/dev/null 2>&1 || { echo "ab.sh: A failed on these arguments" >&2; exit 1; }
"$b" "$@" >/dev/null 2>&1 || { echo "ab.sh: B failed on these arguments" >&2; exit 1; }
# One timed run: wall time from the shell's microsecond clock (`/usr/bin/time` rounds to 10 ms,
# a few percent of a short run), peak RSS from /usr/bin/time.
run() { # label binary args...
  local label=$1 bin=$2 t0 t1 rss
  shift 2
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$out.rss" "$bin" "$@" >/dev/null 2>&1
  t1=$EPOCHREALTIME
  rss=$(tail -1 "$out.rss")
  echo "$label $t0 $t1 $rss" >>"$out"
}
# Which of the pair runs first alternates (A B, B A, ...): the first of two runs in a row was
# measured slower by a few percent, the same build against itself included.
for ((i = 0; i < runs; i++)); do
  if ((i % 2 == 0)); then
    run A "$a" "$@"
    run B "$b" "$@"
  else
    run B "$b" "$@"
    run A "$a" "$@"
  fi
done
awk '
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
  }
  $1 == "A" { na++; wa[na] = $3 - $2; if ($4 > pa) pa = $4 }
  $1 == "B" { nb++; wb[nb] = $3 - $2; if ($4 > pb) pb = $4 }
  END {
    for (i = 1; i <= na && i <= nb; i++) { q[i] = wb[i] > 0 ? wa[i] / wb[i] : 0; sa[i] = wa[i]; sb[i] = wb[i] }
    n = i - 1
    ma = median(sa, n); mb = median(sb, n); mq = median(q, n)
    minA = wa[1]; maxA = wa[1]; minB = wb[1]; maxB = wb[1]
    for (i = 1; i <= n; i++) {
      if (wa[i] < minA) minA = wa[i]; if (wa[i] > maxA) maxA = wa[i]
      if (wb[i] < minB) minB = wb[i]; if (wb[i] > maxB) maxB = wb[i]
    }
    printf "A wall s: median %.3f (%.3f-%.3f), peak RSS %.1f MiB\n", ma, minA, maxA, pa / 1024
    printf "B wall s: median %.3f (%.3f-%.3f), peak RSS %.1f MiB\n", mb, minB, maxB, pb / 1024
    printf "A/B wall: median of %d pairs %.3f\n", n, mq
  }' "$out"
