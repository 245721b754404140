#!/usr/bin/env bash
# Two jobs on one node talk (ping, TCP): the node switches their packets locally
# (counters.local_switched grows) and sends none of them to a peer (peer_tx_packets does
# not grow; the second node is there so that a peer exists to send to).
. "$(dirname "$0")/lib.sh"
need python3 ping
PORT=5003

cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 1 1
check "n1 routes both jobs" wait_jobs_routed 30

l0=$(stat 1 counters.local_switched)
p0=$(stat 1 counters.peer_tx_packets)
r0=$(stat 2 counters.peer_rx_packets)
[[ $l0 =~ ^[0-9]+$ && $p0 =~ ^[0-9]+$ && $r0 =~ ^[0-9]+$ ]] ||
	abort "stats --json lacks counters.local_switched / peer_tx_packets / peer_rx_packets"

check "ping $P-j1 -> $P-j2 (both on n1)" q jx "$P-j1" ping -q -c 5 -i 0.2 -W 2 "${VIP4[$P-j2]}"
check "ping -6 $P-j1 -> $P-j2 (both on n1)" q jx "$P-j1" ping -6 -q -c 5 -i 0.2 -W 2 "${VIP6[$P-j2]}"

spawn jx "$P-j2" timeout 90 python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d)
print(h.hexdigest())' "${VIP4[$P-j2]}" $PORT >"$T/recv"
srv=$!
wait_until 30 listening "$P-j2" $PORT || bad "the receiver does not listen on port $PORT"
head -c 4M /dev/urandom >"$T/data"
want=$(sha256sum <"$T/data" | cut -d' ' -f1)
jx "$P-j1" timeout 90 python3 -c '
import socket, sys, time
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2); break
    except OSError: time.sleep(0.1)
s.sendall(open(sys.argv[3], "rb").read()); s.close()' "${VIP4[$P-j2]}" $PORT "$T/data"
wait "$srv"
[ "$(cat "$T/recv")" = "$want" ] && ok "4 MiB over TCP $P-j1 -> $P-j2 on n1, intact" ||
	bad "4 MiB over TCP $P-j1 -> $P-j2 on n1"

l1=$(stat 1 counters.local_switched)
p1=$(stat 1 counters.peer_tx_packets)
r1=$(stat 2 counters.peer_rx_packets)
# 20 ping packets at least, and the TCP segments
if [ "$((l1 - l0))" -ge 20 ]; then
	ok "n1 local_switched grew by $((l1 - l0))"
else
	bad "n1 local_switched grew by $((l1 - l0)) only (want >= 20)"
fi
[ "$p1" = "$p0" ] && ok "n1 peer_tx_packets did not grow ($p0)" ||
	bad "n1 peer_tx_packets grew by $((p1 - p0)) with local traffic"
[ "$r1" = "$r0" ] && ok "n2 peer_rx_packets did not grow ($r0)" ||
	bad "n2 peer_rx_packets grew by $((r1 - r0)) with n1-local traffic"

finish
