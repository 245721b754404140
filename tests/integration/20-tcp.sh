#!/usr/bin/env bash
# 1 GiB over TCP from a job on n1 to a job on n3, hashed on both ends; the throughput and
# a short iperf3 run (when installed) are printed for information only.
# timeout: 300
. "$(dirname "$0")/lib.sh"
need python3
MIB=${TV_TCP_MIB:-1024}   # size of the transfer
PORT=5001

cluster_up 3
job "$P-j1" 1 0
job "$P-j3" 3 0
check "n1 and n3 route both jobs" wait_jobs_routed 30

STREAM=$ROOT/tests/tools/checkstream.py
spawn jx "$P-j3" timeout 240 python3 "$STREAM" recv "${VIP4[$P-j3]}" $PORT >"$T/recv" 2>"$T/recv.err"
srv=$!
wait_until 30 listening "$P-j3" $PORT || bad "the receiver does not listen on port $PORT"

jx "$P-j1" timeout 240 python3 "$STREAM" send "${VIP4[$P-j3]}" $PORT --mib "$MIB" --timeout 60 \
	>"$T/send" 2>"$T/send.err"
src=$?
wait "$srv"
read -r sbytes shash secs <"$T/send" 2>/dev/null
read -r rbytes rhash <"$T/recv" 2>/dev/null
if [ "$src" = 0 ] && [ -n "${shash:-}" ] && [ "${shash:-}" = "${rhash:-}" ] &&
	[ "${sbytes:-}" = $((MIB << 20)) ] && [ "$sbytes" = "${rbytes:-}" ]; then
	ok "$MIB MiB over TCP $P-j1 (n1) -> $P-j3 (n3): same sha256 on both ends"
	info "$(awk -v b="$sbytes" -v s="$secs" 'BEGIN { printf "TCP throughput %.2f Gbit/s (%d MiB in %.1f s)", b * 8 / s / 1e9, b / 1048576, s }')"
else
	sed 's/^/    /' "$T/send.err" "$T/recv.err"
	bad "TCP transfer: sender exit $src, sent ${sbytes:-?} B ${shash:-?}, received ${rbytes:-?} B ${rhash:-?}"
fi

if command -v iperf3 >/dev/null; then
	spawn jx "$P-j3" timeout 60 iperf3 -s -1 -B "${VIP4[$P-j3]}" -p 5201 >/dev/null 2>&1
	wait_until 30 listening "$P-j3" 5201
	if jx "$P-j1" timeout 60 iperf3 -c "${VIP4[$P-j3]}" -p 5201 -t 3 -J >"$T/iperf.json" 2>&1; then
		info "iperf3 n1 -> n3 (3 s): $(jget '"%.2f Gbit/s" % (d["end"]["sum_received"]["bits_per_second"] / 1e9)' <"$T/iperf.json")"
	else
		info "iperf3 run failed: $(head -c 300 "$T/iperf.json")"
	fi
else
	info "iperf3 not installed, skipped"
fi

finish
