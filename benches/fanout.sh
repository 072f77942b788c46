#!/usr/bin/env bash
# Live capture with several capture threads (--capture-threads), on a veth pair inside a network
# namespace of its own (root; tcpreplay installed).
#
#   benches/fanout.sh FILE [RATE...]
#   benches/fanout.sh live1m.pcap --topspeed "--topspeed --preload-pcap" --pps=300000
#
# Creates the namespace ndbsniff-fanout holding both ends of a veth pair (fo0, fo1), so the
# replayed packets (whatever their addresses) never reach the host's network. For each number of
# capture threads in THREADS (default "1 2") and each tcpreplay rate option (default
# --topspeed), starts `ndbsniff -i fo1 --any-port --format json --capture-threads N` (plus
# NDBSNIFF_OPTS), replays FILE onto fo0 with tcpreplay, waits two seconds, reads each thread's
# CPU time (/proc/PID/task/*/schedstat, nanoseconds on a CPU), stops the capture with SIGINT and
# prints: the rate tcpreplay reached, packets sent, read by ndbsniff, received and dropped by the
# kernel (all sockets), dropped by ndbsniff, flows, each socket's packets read, and the CPU
# nanoseconds per packet read of the capture threads, of the flow workers and of the main thread.
# NDBSNIFF=/path/to/ndbsniff picks the binary.
set -eu
FILE=${1:?usage: benches/fanout.sh FILE [RATE...]}
shift
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(--topspeed)
NDB=${NDBSNIFF:-$(dirname "$0")/../target/release/ndbsniff}
THREADS=${THREADS:-1 2}
NS=ndbsniff-fanout
ip netns del "$NS" 2> /dev/null || true
ip netns add "$NS"
trap 'ip netns del "$NS" 2> /dev/null || true; rm -rf "$OUT"' EXIT
OUT=$(mktemp -d)
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link add fo0 type veth peer name fo1
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
in_ns ip link set lo up
in_ns ip link set fo0 up
in_ns ip link set fo1 up

# Each thread's time on a CPU (ns), summed by role: capture*, flow-*, and the main thread (the
# task whose id is the process's).
cpu_by_role() {
  local pid=$1
  for t in /proc/"$pid"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(cat "$t/comm")" "$(cut -d' ' -f1 "$t/schedstat")"
  done | awk -v pid="$pid" '{ r = ($1 == pid) ? "main" : ($2 ~ /^capture/) ? "capture" : ($2 ~ /^flow-/) ? "flow" : "other"; s[r] += $3 }
              END { printf "%d %d %d\n", s["capture"], s["flow"], s["main"] }'
}

for n in $THREADS; do
  for rate in "${RATES[@]}"; do
    echo "ndbsniff -i fo1 --any-port --format json --capture-threads $n ${NDBSNIFF_OPTS:-}; tcpreplay -i fo0 $rate"
    # shellcheck disable=SC2086
    in_ns "$NDB" -i fo1 --any-port --format json --capture-threads "$n" ${NDBSNIFF_OPTS:-} \
      > "$OUT/ndb.json" 2> "$OUT/ndb.err" &
    pid=$!
    # The listening line comes once every socket is open and joined.
    for _ in $(seq 50); do grep -q "listening on" "$OUT/ndb.err" && break; sleep 0.1; done
    sleep 0.5
    # shellcheck disable=SC2086
    in_ns tcpreplay -i fo0 $rate "$FILE" > "$OUT/replay.txt" 2>&1 || cat "$OUT/replay.txt" >&2
    sleep 2
    # `ip netns exec` may run ndbsniff as its child: signal ndbsniff itself.
    npid=$(pgrep -P "$pid" | head -1)
    npid=${npid:-$pid}
    read -r cap_ns flow_ns main_ns < <(cpu_by_role "$npid")
    kill -INT "$npid"
    wait "$pid" || true
    sent=$(grep -Eo "Actual: [0-9]+ packets" "$OUT/replay.txt" | grep -Eo "[0-9]+" || echo "?")
    pps=$(grep -Eo "[0-9.]+ pps" "$OUT/replay.txt" || echo "? pps")
    tail -1 "$OUT/ndb.json" | SENT=$sent PPS=$pps CAP=$cap_ns FLOW=$flow_ns MAIN=$main_ns python3 -c '
import json, os, sys
s = json.load(sys.stdin)
e = os.environ
read = max(s["packets_read"], 1)
per = [t["packets_read"] for t in s.get("capture_threads", [])] or "-"
print("  sent %s at %s; read %d, received by kernel %s, dropped by kernel %s, dropped by ndbsniff %d, flows %d, per socket %s"
      % (e["SENT"], e["PPS"], s["packets_read"], s.get("received_by_kernel"), s.get("dropped_by_kernel"),
         s["dropped_by_ndbsniff"], s["flows"], per))
print("  CPU ns per packet read: capture threads %.0f, flow workers %.0f, main %.0f"
      % tuple(int(e[k]) / read for k in ("CAP", "FLOW", "MAIN")))'
  done
done
