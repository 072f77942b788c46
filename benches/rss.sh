#!/usr/bin/env bash
# rss.sh COMMAND [ARGS...]: runs the command with its standard output discarded, samples
# /proc/PID/status every 5 ms, and prints the highest RssAnon (heap and other private memory)
# and RssFile (pages of mapped files, e.g. a memory-mapped capture) seen. GNU time's %M is the
# peak of their sum.
set -u
"$@" > /dev/null &
pid=$!
peak_anon=0
peak_file=0
while kill -0 "$pid" 2> /dev/null; do
  read -r anon file < <(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a + 0, f + 0}' \
    "/proc/$pid/status" 2> /dev/null)
  [ "${anon:-0}" -gt "$peak_anon" ] && peak_anon=$anon
  [ "${file:-0}" -gt "$peak_file" ] && peak_file=$file
  sleep 0.005
done
wait "$pid"
echo "peak RssAnon ${peak_anon} KB, peak RssFile ${peak_file} KB"
