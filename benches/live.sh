#!/usr/bin/env bash
# Live capture under load, inside a network namespace of its own (root, tcpreplay, tcpdump).
#
#   benches/live.sh FILE [TCPREPLAY RATE OPTION] [NDBSNIFF OPTIONS...]
#   benches/live.sh live.pcap --topspeed
#   benches/live.sh live.pcap --pps=200000 -B 65536
#
# Creates the namespace ndbsniff-live with only its loopback interface up, so the replayed
# packets (whatever their addresses) never leave it. Then, once for ndbsniff
# (`-i lo --any-port --format json`, plus the options given) and once for `tcpdump -i lo -w
# /dev/null`, starts the capture, replays FILE onto that lo with tcpreplay, waits two seconds,
# stops the capture with SIGINT and prints tcpreplay's rate and the capture's counters. On lo
# the kernel sees every packet twice (sent and received), so "received by filter" is twice the
# packets sent; both tools count each packet once. NDBSNIFF=/path/to/ndbsniff picks the binary.
set -eu
FILE=${1:?usage: benches/live.sh FILE [RATE] [NDBSNIFF OPTIONS...]}
RATE=${2:---topspeed}
shift $(( $# >= 2 ? 2 : 1 ))
NDB=${NDBSNIFF:-$(dirname "$0")/../target/release/ndbsniff}
NS=ndbsniff-live
ip netns del "$NS" 2> /dev/null || true
ip netns add "$NS"
trap 'ip netns del "$NS" 2> /dev/null || true' EXIT
ip netns exec "$NS" ip link set lo up
OUT=$(mktemp -d)

replay() {
  sleep 1
  ip netns exec "$NS" tcpreplay -i lo "$RATE" "$FILE" 2>&1 | grep -E "^Rated" | sed 's/^/  tcpreplay: /'
  sleep 2
}

echo "ndbsniff -i lo --any-port --format json $*"
ip netns exec "$NS" "$NDB" -i lo --any-port --format json "$@" > "$OUT/ndb.json" 2> "$OUT/ndb.err" &
pid=$!
replay
kill -INT "$pid"
wait "$pid" || true
tail -1 "$OUT/ndb.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
keys = ["packets_read", "received_by_kernel", "dropped_by_kernel", "dropped_by_interface",
        "dropped_by_ndbsniff", "flows"]
print("  ndbsniff: " + ", ".join(f"{k} {s.get(k)}" for k in keys))'

echo "tcpdump -i lo -w /dev/null"
ip netns exec "$NS" tcpdump -i lo -w /dev/null 2> "$OUT/td.err" &
pid=$!
replay
kill -INT "$pid"
wait "$pid" || true
grep -E "captured|received|dropped" "$OUT/td.err" | sed 's/^/  tcpdump: /'
rm -rf "$OUT"
