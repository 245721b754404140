#!/usr/bin/env bash
# The underlay link of n3 goes down and comes back: a ping and a TCP connection between
# jobs on n2 and n3 resume without a daemon restart. Once for ~5 s (shorter than the
# keepalive timeout) and once for ~12 s (the link between the daemons dies and is
# re-established); the TCP connection of the jobs survives both.
# timeout: 200
. "$(dirname "$0")/lib.sh"
need python3 ping
PORT=5004

cluster_up 3
job tv-j2 2 0
job tv-j3 3 0
check "every node routes both jobs" wait_jobs_routed 10
pids0="$(daemon_pid 1) $(daemon_pid 2) $(daemon_pid 3)"

# A TCP flow: tv-j2 sends a line every 0.1 s, tv-j3 echoes it, tv-j2 logs each round trip.
spawn jx tv-j3 timeout 170 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); f = c.makefile("rwb", buffering=0)
for line in f:
    f.write(line)' "${VIP4[tv-j3]}" $PORT
spawn jx tv-j2 timeout 170 python3 -c '
import os, socket, sys, time
dst, port, log, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for _ in range(50):
    try:
        s = socket.create_connection((dst, port), timeout=2); break
    except OSError: time.sleep(0.1)
s.settimeout(120)
f, out, i = s.makefile("rwb", buffering=0), open(log, "w"), 0
while not os.path.exists(stop):
    i += 1
    f.write(b"%d\n" % i)
    if f.readline() != b"%d\n" % i:
        sys.exit("echo mismatch at %d" % i)
    out.write("%d\n" % i); out.flush()
    time.sleep(0.1)
print("flow done after", i, "round trips")' "${VIP4[tv-j3]}" $PORT "$T/flow" "$T/stop" >"$T/client" 2>&1
client=$!

rounds() { tail -n 1 "$T/flow" 2>/dev/null || echo 0; }
# flow_moves SECONDS: the flow makes 3 more round trips within SECONDS
flow_moves() {
	local r0
	r0=$(rounds)
	_moved() { [ "$(rounds)" -ge $((r0 + 3)) ]; }
	wait_until "$1" _moved
}
pings() { jx tv-j2 ping -q -c 1 -W 1 "${VIP4[tv-j3]}" >/dev/null 2>&1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

check "TCP flow tv-j2 (n2) <-> tv-j3 (n3) running" flow_moves 10

for down in 5 12; do
	info "taking v3 (n3's underlay link) down for $down s"
	ip -n tv-ul link set v3 down || bad "ip link set v3 down"
	sleep "$down"
	ip -n tv-ul link set v3 up || bad "ip link set v3 up"
	t0=$EPOCHREALTIME
	if [ "$down" -gt 10 ]; then
		if wait_until 30 all_meshed; then
			ok "after $down s down: every peer \"up\" again in $(since "$t0") s"
		else
			bad "after $down s down: peers not all \"up\" within 30 s"
		fi
	fi
	if wait_until 20 pings; then
		ok "after $down s down: ping tv-j2 -> tv-j3 resumes in $(since "$t0") s"
	else
		bad "after $down s down: ping tv-j2 -> tv-j3 not back within 20 s"
	fi
	# TCP's retransmission timer has backed off to several seconds by now
	if flow_moves 30; then
		ok "after $down s down: the TCP connection resumes in $(since "$t0") s"
	else
		bad "after $down s down: the TCP connection did not resume within 30 s"
	fi
	pids1="$(daemon_pid 1) $(daemon_pid 2) $(daemon_pid 3)"
	if [ "$pids1" = "$pids0" ] && ps -p "${pids0// /,}" >/dev/null 2>&1 &&
	   [ "$(ps -o pid= -p "${pids0// /,}" | wc -l)" = 3 ]; then
		ok "after $down s down: the same three daemons run (pids $pids0)"
	else
		bad "after $down s down: daemons changed or died (were $pids0)"
	fi
done

touch "$T/stop"
if wait "$client"; then
	ok "TCP connection survived both outages: $(cat "$T/client")"
else
	bad "TCP flow client failed: $(cat "$T/client")"
fi

finish
