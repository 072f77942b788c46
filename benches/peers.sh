#!/usr/bin/env bash
# Side-by-side wall time of ndbsniff and its peers on one capture file.
#
# Builds the two C peers (benches/peers/*.c) into target/bench-peers/ and ndbsniff in release,
# warms the page cache, runs every installed peer N times, and prints the best and median
# wall time, packets per second (from the file's real packet count), peak RSS, and the
# ratio to libpcap's bare read loop (pcap_count). See benches/README.md.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
usage: benches/peers.sh FILE [--port P | --any-port] [--runs N] [--no-tshark] [--max-flows N]

  FILE         a pcap or pcapng capture
  --port P     port of the port-mode rows (BPF-filtered read, ndbsniff default mode);
               default 3406
  --any-port   leave the port-mode rows out; every row then does whole-file work
  --runs N     timed runs per peer (default 3); best and median are reported
  --no-tshark  skip tshark even when it is installed (it is by far the slowest)
  --max-flows N  passed to every ndbsniff row (a SYN flood's file: the bound under test)

Environment: NDBSNIFF=/path/to/ndbsniff uses that binary instead of building one.
EOF
}

file=""
port=3406
any_port=0
runs=3
no_tshark=0
max_flows=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      port=$2
      shift 2
      ;;
    --any-port) any_port=1; shift ;;
    --runs)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      runs=$2
      shift 2
      ;;
    --no-tshark) no_tshark=1; shift ;;
    --max-flows)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "peers.sh: --max-flows needs a positive integer" >&2; exit 2; }
      max_flows=(--max-flows "$2")
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "peers.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$file" ] || { echo "peers.sh: more than one FILE" >&2; exit 2; }
      file=$1
      shift
      ;;
  esac
done
[ -n "$file" ] || { usage >&2; exit 2; }
[ -r "$file" ] || { echo "peers.sh: cannot read $file" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "peers.sh: --runs needs a positive integer" >&2; exit 2; }
if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  echo "peers.sh: --port needs 1..65535" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
bin_dir=$root/target/bench-peers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ---------------------------------------------------------------------------

mkdir -p "$bin_dir"
for prog in pcap_count pcap_flows; do
  src=$root/benches/peers/$prog.c
  if [ ! -x "$bin_dir/$prog" ] || [ "$src" -nt "$bin_dir/$prog" ]; then
    if ! gcc -O2 -Wall -Wextra -o "$bin_dir/$prog" "$src" -lpcap; then
      echo "peers.sh: cannot build $prog (needs gcc and libpcap-dev)" >&2
      exit 2
    fi
  fi
done

ndbsniff=""
ndbsniff_note=""
ndbsniff_skip=""
if [ -n "${NDBSNIFF:-}" ]; then
  ndbsniff=$NDBSNIFF
elif command -v cargo >/dev/null 2>&1; then
  if (cd "$root" && cargo build --release --quiet) 2>"$tmp/cargo.log"; then
    ndbsniff=$target_dir/release/ndbsniff
  else
    ndbsniff_skip="ndbsniff: cargo build --release failed: $(tail -n 3 "$tmp/cargo.log" | tr '\n' ' ')"
  fi
elif [ -x "$target_dir/release/ndbsniff" ]; then
  ndbsniff=$target_dir/release/ndbsniff
  ndbsniff_note="cargo not found, using the existing $ndbsniff"
else
  ndbsniff_skip="ndbsniff: no cargo and no release binary"
fi
if [ -n "$ndbsniff" ] && [ ! -x "$ndbsniff" ]; then
  ndbsniff_skip="ndbsniff: $ndbsniff is not executable"
  ndbsniff=""
fi

# ---- helpers -------------------------------------------------------------------------

# Quote words for display, for eval and for hyperfine's own word splitting alike.
quote() {
  local a out=""
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then
      out+="$a "
    else
      out+="'${a//\'/\'\\\'\'}' "
    fi
  done
  printf '%s' "${out% }"
}

# The BPF expression ndbsniff itself hands libpcap for this file in port mode, as its JSON
# statistics report it (it depends on the link type); the plain port test without ndbsniff.
port_filter() {
  local plain="(tcp or udp) and (port $1)" got=""
  if [ -n "${ndbsniff:-}" ]; then
    got=$("$ndbsniff" -r "$file" --port "$1" --format json -c 1 2>/dev/null | tail -n 1 |
      python3 -c 'import json, sys; print(json.load(sys.stdin).get("filter", ""))' 2>/dev/null)
  fi
  printf '%s' "${got:-$plain}"
}
filter=$(port_filter "$port")

gnu_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e' true >/dev/null 2>&1; then gnu_time=1; fi
have_hyperfine=0
if command -v hyperfine >/dev/null 2>&1; then have_hyperfine=1; fi

# Wall-clock time in seconds with microseconds (bash 5 has it built in).
now() {
  if [ -n "${EPOCHREALTIME:-}" ]; then printf '%s' "$EPOCHREALTIME"; else date +%s.%N; fi
}

# One run of the quoted command $1, stdout to $2, stderr to $3. Sets run_rc, run_wall
# (seconds) and run_rss (KiB, or empty without GNU time).
run_once() {
  local cmd=$1 out=$2 err=$3 t0 t1
  eval "set -- $cmd"
  run_rc=0
  run_rss=""
  t0=$(now)
  if [ "$gnu_time" -eq 1 ]; then
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >"$out" 2>"$err" </dev/null || run_rc=$?
  else
    "$@" >"$out" 2>"$err" </dev/null || run_rc=$?
  fi
  t1=$(now)
  run_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
  if [ "$gnu_time" -eq 1 ] && [ -s "$tmp/time" ]; then
    run_rss=$(tail -n 1 "$tmp/time" | awk '{ print $2 }')
  fi
}

# Timed runs of the quoted command $1; prints "BEST MEDIAN" in seconds.
time_runs() {
  local cmd=$1 i
  if [ "$have_hyperfine" -eq 1 ] &&
    hyperfine -N -i --runs "$runs" --output=null --style none \
      --export-csv "$tmp/hf.csv" "$cmd" >"$tmp/hf.log" 2>&1; then
    # command,mean,stddev,median,user,system,min,max: read from the end, the command may
    # contain commas.
    awk -F, 'NR == 2 { printf "%s %s\n", $(NF-1), $(NF-4) }' "$tmp/hf.csv"
    return
  fi
  : >"$tmp/walls"
  for ((i = 0; i < runs; i++)); do
    run_once "$cmd" /dev/null /dev/null
    echo "$run_wall" >>"$tmp/walls"
  done
  sort -g "$tmp/walls" | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%s %s\n", v[1], m }'
}

# ---- machine and file ----------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | sed -n 1p)
mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null || true)
size_bytes=$(wc -c <"$file" | tr -d ' ')

echo "machine:  $(nproc) cores, ${cpu:-unknown CPU}, $(awk -v k="${mem_kib:-0}" 'BEGIN { printf "%.1f GiB", k / 1048576 }') memory, $(uname -sr)"
echo "timing:   $([ "$have_hyperfine" -eq 1 ] && echo "hyperfine -N" || echo "wall clock"), $runs runs per peer after one checked run; peak RSS from $([ "$gnu_time" -eq 1 ] && echo "/usr/bin/time %M" || echo "(GNU time not installed)")"

# Warm the page cache so every peer reads from memory.
cat "$file" >/dev/null

# The checked run of the baseline gives the file's packet count.
run_once "$(quote "$bin_dir/pcap_count" "$file")" "$tmp/out" "$tmp/err"
if [ "$run_rc" -eq 2 ] || ! grep -q '^packets=' "$tmp/out"; then
  echo "peers.sh: pcap_count cannot read $file: $(cat "$tmp/err")" >&2
  exit 2
fi
packets=$(sed -n 's/^packets=\([0-9]*\).*/\1/p' "$tmp/out")
echo "file:     $file ($size_bytes bytes, $packets packets$([ "$run_rc" -ne 0 ] && echo ", damaged part-way: libpcap stops early"))"

if [ "$any_port" -eq 0 ]; then
  echo "FILTER:   $filter"
fi
echo

# ---- peers ---------------------------------------------------------------------------

names=()
cmds=()
shows=()
skipped=()

# add_peer NAME ARGV... : the command as run, and as shown (FILE as F, the filter as $FILTER).
add_peer() {
  local name=$1 a
  shift
  local show=()
  for a in "$@"; do
    if [ "$a" = "$file" ]; then
      show+=(F)
    elif [ "${a#"$root"/}" != "$a" ]; then
      show+=("${a#"$root"/}")
    elif [ "$a" = "$filter" ]; then
      show+=("\$FILTER")
    else
      show+=("$a")
    fi
  done
  names+=("$name")
  cmds+=("$(quote "$@")")
  shows+=("$(quote "${show[@]}" | sed "s/'\\\$FILTER'/\"\$FILTER\"/")")
}

add_peer "pcap_count (bare read)" "$bin_dir/pcap_count" "$file"
if [ "$any_port" -eq 0 ]; then
  add_peer "pcap_count + BPF port $port" "$bin_dir/pcap_count" "$file" "$filter"
fi
add_peer "pcap_count, 128 KiB stdio" "$bin_dir/pcap_count" -b "$file"
add_peer "pcap_flows (C flow table)" "$bin_dir/pcap_flows" "$file"

if command -v tcpdump >/dev/null 2>&1; then
  add_peer "tcpdump -w /dev/null" tcpdump -r "$file" -w /dev/null
else
  skipped+=("tcpdump: not installed (apt-get install tcpdump)")
fi
if command -v ndpiReader >/dev/null 2>&1; then
  add_peer "ndpiReader" ndpiReader -i "$file" -q
else
  skipped+=("ndpiReader: not installed (apt-get install libndpi-bin)")
fi
if [ "$no_tshark" -eq 1 ]; then
  skipped+=("tshark: --no-tshark")
elif command -v tshark >/dev/null 2>&1; then
  # Without taps, filters or output, tshark does not dissect at all (a wiretap read loop);
  # the conversation taps make it dissect every frame and keep a flow table.
  add_peer "tshark -q (no dissection)" tshark -r "$file" -q
  add_peer "tshark conv,tcp+conv,udp" tshark -r "$file" -q -z conv,tcp -z conv,udp
else
  skipped+=("tshark: not installed (apt-get install tshark)")
fi

if [ -n "$ndbsniff" ]; then
  add_peer "ndbsniff any-port, 1 thread" "$ndbsniff" -r "$file" --any-port --format json --threads 1 "${max_flows[@]}"
  add_peer "ndbsniff any-port, 2 threads" "$ndbsniff" -r "$file" --any-port --format json --threads 2 "${max_flows[@]}"
  if [ "$any_port" -eq 0 ]; then
    if [ "$port" -eq 3406 ]; then
      add_peer "ndbsniff port $port (default)" "$ndbsniff" -r "$file" --format json "${max_flows[@]}"
    else
      add_peer "ndbsniff port $port" "$ndbsniff" -r "$file" --port "$port" --format json "${max_flows[@]}"
    fi
  fi
fi
if [ -n "$ndbsniff_skip" ]; then skipped+=("$ndbsniff_skip"); fi

# ---- measure -------------------------------------------------------------------------

fmt_rate() {
  awk -v n="$1" -v t="$2" 'BEGIN {
    if (t <= 0) { print "-"; exit }
    r = n / t
    if (r >= 1e6) printf "%.2fM\n", r / 1e6
    else if (r >= 1e3) printf "%.1fk\n", r / 1e3
    else printf "%.0f\n", r }'
}

printf '%-29s %9s %9s %10s %8s %8s  %s\n' tool "best s" "median s" "packets/s" "RSS MiB" "vs bare" command
base_best=""
notes=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  cmd=${cmds[$i]}
  run_once "$cmd" "$tmp/out" "$tmp/err"
  rss=$run_rss
  note=""
  if [ "$run_rc" -ne 0 ]; then
    note="exit status $run_rc$([ -s "$tmp/err" ] && printf ' (%s)' "$(tail -n 1 "$tmp/err")")"
  fi
  case "$name" in
    pcap_count*)
      got=$(sed -n 's/^packets=\([0-9]*\).*/\1/p' "$tmp/out")
      if [ -n "$got" ] && [ "$got" != "$packets" ]; then note="${note:+$note; }$got packets passed"; fi
      ;;
    pcap_flows*)
      got=$(sed -n 's/^packets=\([0-9]*\).*/\1/p' "$tmp/out")
      flows=$(sed -n 's/.*flows=\([0-9]*\).*/\1/p' "$tmp/out")
      if [ -n "$got" ]; then
        note="${note:+$note; }$flows flows"
        if [ "$got" != "$packets" ]; then note="$note; read $got packets, expected $packets"; fi
      fi
      ;;
    tshark\ conv*)
      note="${note:+$note; }$(grep -c -- '<->' "$tmp/out" || true) conversations"
      ;;
    ndbsniff*)
      flows=$(tail -n 1 "$tmp/out" | sed -n 's/.*"flows":\([0-9]*\).*/\1/p')
      [ -z "$flows" ] || note="${note:+$note; }$flows flows"
      ;;
  esac
  read -r best median < <(time_runs "$cmd")
  [ -n "$base_best" ] || base_best=$best
  ratio=$(awk -v t="$best" -v b="$base_best" 'BEGIN { if (b > 0) printf "%.2fx", t / b; else print "-" }')
  rss_mib=$([ -n "$rss" ] && awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }' || echo "-")
  printf '%-29s %9.4f %9.4f %10s %8s %8s  %s\n' "$name" "$best" "$median" \
    "$(fmt_rate "$packets" "$best")" "$rss_mib" "$ratio" "${shows[$i]}"
  [ -z "$note" ] || notes+=("$name: $note")
done

echo
echo "F = $file; packets/s = $packets packets / best s; vs bare = best s / pcap_count's best s"
[ -z "$ndbsniff_note" ] || echo "note: $ndbsniff_note"
for n in ${notes[@]+"${notes[@]}"}; do echo "note: $n"; done
for s in ${skipped[@]+"${skipped[@]}"}; do echo "skipped: $s"; done
