#!/usr/bin/env bash
# The underlay link of n3 goes down and comes back: a ping and a TCP connection between
# jobs on n2 and n3 resume without a daemon restart. Once for 2 s, well under the 6 s
# keepalive timeout: the link between the daemons holds (counters.link_downs and the
# peer_down events say so). The underlay TCP's retransmission backoff delivers the frames
# queued during an outage up to about twice its length later, so a 5 s outage already
# breaks the link. Once for 12 s: the link dies, is counted and reported, and is
# re-established. The TCP connection of the jobs survives both.
# timeout: 200
. "$(dirname "$0")/lib.sh"
need python3 ping
PORT=5004

cluster_up 3
job "$P-j2" 2 0
job "$P-j3" 3 0
check "every node routes both jobs" wait_jobs_routed 30
pids0="$(daemon_pid 1) $(daemon_pid 2) $(daemon_pid 3)"

# A TCP flow: $P-j2 sends a line every 0.1 s, $P-j3 echoes it, $P-j2 logs each round trip.
spawn jx "$P-j3" timeout 170 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); f = c.makefile("rwb", buffering=0)
for line in f:
    f.write(line)' "${VIP4[$P-j3]}" $PORT
wait_until 30 listening "$P-j3" $PORT || bad "the echo server does not listen on port $PORT"
spawn jx "$P-j2" timeout 170 python3 -c '
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
print("flow done after", i, "round trips")' "${VIP4[$P-j3]}" $PORT "$T/flow" "$T/stop" >"$T/client" 2>&1
client=$!

rounds() { tail -n 1 "$T/flow" 2>/dev/null || echo 0; }
# flow_moves SECONDS: the flow makes 3 more round trips within SECONDS
flow_moves() {
	local r0
	r0=$(rounds)
	_moved() { [ "$(rounds)" -ge $((r0 + 3)) ]; }
	wait_until "$1" _moved
}
pings() { jx "$P-j2" ping -q -c 1 -W 1 "${VIP4[$P-j3]}" >/dev/null 2>&1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

check "TCP flow $P-j2 (n2) <-> $P-j3 (n3) running" flow_moves 30

# links_down K: node K's counters.link_downs; peer_downs K NODE: how many peer_down events
# for NODE node K has recorded
links_down() { stat "$1" counters.link_downs; }
peer_downs() {
	ctl "$1" --json events 2>/dev/null |
		jget "len([e for e in d if e['type'] == 'peer_down' and e.get('node') == '$2'])"
}

for down in 2 12; do
	ld2=$(links_down 2) ld3=$(links_down 3) pd2=$(peer_downs 2 n3)
	[[ $ld2 =~ ^[0-9]+$ && $ld3 =~ ^[0-9]+$ && $pd2 =~ ^[0-9]+$ ]] ||
		abort "no counters.link_downs or events on n2/n3 ('$ld2' '$ld3' '$pd2')"
	info "taking v3 (n3's underlay link) down for $down s"
	td=$EPOCHREALTIME
	ip -n "$P-ul" link set v3 down || bad "ip link set v3 down"
	sleep "$down"   # the outage itself, not a wait for something
	ip -n "$P-ul" link set v3 up || bad "ip link set v3 up"
	t0=$EPOCHREALTIME
	lasted=$(since "$td")
	if [ "$down" -gt 10 ]; then
		if wait_until 60 all_meshed; then
			ok "after $down s down: every peer \"up\" again in $(since "$t0") s"
		else
			bad "after $down s down: peers not all \"up\" within 60 s"
		fi
	fi
	if wait_until 60 pings; then
		ok "after $down s down: ping $P-j2 -> $P-j3 resumes in $(since "$t0") s"
	else
		bad "after $down s down: ping $P-j2 -> $P-j3 not back within 60 s"
	fi
	# TCP's retransmission timer has backed off to several seconds by now
	if flow_moves 30; then
		ok "after $down s down: the TCP connection resumes in $(since "$t0") s"
	else
		bad "after $down s down: the TCP connection did not resume within 30 s"
	fi
	# The peers' keepalive declares a link dead after 6 s without a frame (PEER_DEAD_MS):
	# the 12 s outage must have broken the n2-n3 link (and it came back: all_meshed
	# above), the 2 s one must not have (its frames resume by the underlay TCP's next
	# retransmission, 3 s after the link went down at the latest).
	ld2b=$(links_down 2) ld3b=$(links_down 3) pd2b=$(peer_downs 2 n3)
	what="n2 link_downs $ld2 -> $ld2b, n3 $ld3 -> $ld3b, n2's peer_down events for n3 $pd2 -> $pd2b"
	if [ "$down" -gt 10 ]; then
		if [ "$ld2b" -gt "$ld2" ] && [ "$ld3b" -gt "$ld3" ] && [ "$pd2b" -gt "$pd2" ]; then
			ok "after $down s down: the link n2-n3 was declared dead and came back ($what)"
		else
			bad "after $down s down: the link n2-n3 was not declared dead ($what)"
		fi
	elif awk -v l="$lasted" 'BEGIN { exit !(l < 2.5) }'; then
		if [ "$ld2b" = "$ld2" ] && [ "$ld3b" = "$ld3" ] && [ "$pd2b" = "$pd2" ]; then
			ok "after $down s down ($lasted s): the link n2-n3 held ($what)"
		else
			bad "after $down s down ($lasted s): the link n2-n3 broke ($what)"
		fi
	else
		bad "the $down s outage lasted $lasted s: too close to the 6 s keepalive timeout to" \
			"judge whether the link should have held ($what)"
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
