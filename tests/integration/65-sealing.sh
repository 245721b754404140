#!/usr/bin/env bash
# Sealed data links: keys rotate every second during a checked TCP stream, with no frame
# refused and every byte right; the data link says "sealed". Then a node whose
# data_protection differs is refused (counted, named in the log), and a cluster with
# data_protection = none carries the same stream over plain data links.
# timeout: 240
. "$(dirname "$0")/lib.sh"
need python3

# stream SRC DST_NS SECONDS: a TCP stream of SECONDS from job SRC to job DST_NS, hashed
# on both ends; ok when both ends agree.
stream() {
	local src=$1 dst=$2 secs=$3 port=5065
	rm -f "$T/recv" "$T/sent"
	spawn jx "$dst" timeout 120 python3 -c '
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)' "${VIP4[$dst]}" $port >"$T/recv"
	wait_until 10 grep -q listening "$T/recv" || { bad "receiver in $dst did not start"; return; }
	jx "$src" timeout 120 python3 -c '
import hashlib, os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
h, n, end = hashlib.sha256(), 0, time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    b = os.urandom(1 << 16)
    s.sendall(b)
    h.update(b)
    n += len(b)
s.close()
print(n, h.hexdigest())' "${VIP4[$dst]}" $port "$secs" >"$T/sent"
	wait_until 60 bash -c "[ \$(wc -l <'$T/recv') -ge 2 ]"
	local got want
	got=$(tail -1 "$T/recv")
	want=$(cat "$T/sent")
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "$4: ${want%% *} bytes over TCP $src -> $dst, same sha256 on both ends"
	else
		bad "$4: sent '$want', received '$got'"
	fi
}

# link_field K PEER KEY: KEY of PEER's first data link in node K's peers --json
link_field() {
	ctl "$1" --json peers | jget "[l for p in d if p['node'] == '$2' for l in p['links'] if l['role'] == 'data'][0]['$3']"
}

VNET_REKEY_INTERVAL=1 cluster_up 2
export VNET_REKEY_INTERVAL=1
job "$P-j1" 1 0
job "$P-j2" 2 0
check "n1 and n2 route both jobs" wait_jobs_routed 10
check "n1's data link to n2 is sealed" test "$(link_field 1 n2 protection)" = sealed
r1=$(link_field 1 n2 rekeys)
stream "$P-j1" "$P-j2" 4 "keys rotating every second"
r2=$(link_field 1 n2 rekeys)
[ "${r2:-0}" -ge $((r1 + 3)) ] 2>/dev/null && ok "n1's data link rotated its keys during the stream ($r1 -> $r2)" ||
	bad "n1's data link rotations: $r1 -> $r2 (wanted 3 or more)"
for k in 1 2; do
	o=$([ $k = 1 ] && echo n2 || echo n1)
	rej=$(ctl $k --json peers | jget "[p['rejected_frames'] for p in d if p['node'] == '$o'][0]")
	[ "$rej" = 0 ] && ok "n$k refused no frame of $o" || bad "n$k refused $rej frames of $o"
done

# a node that does not seal is refused by one that does
r0=$(stat 1 counters.handshake_refused)
VNET_DATA_PROTECTION=none timeout 30 "$CLUSTER" add 3 >"$T/add3.log" 2>&1 &
BGPIDS+=($!)
refused() { [ "$(stat 1 counters.handshake_refused)" -gt "${r0:-0}" ] 2>/dev/null; }
check "n1 refuses n3 with data_protection = none (handshake_refused grew)" wait_until 20 refused
if peer_up 1 n3; then bad "n1 lists n3 as up"; else ok "n1 does not list n3 as up"; fi
if wait_until 10 grep -q "data_protection differs" "$CDIR/n1.log" "$CDIR/n3.log"; then
	ok "the refusal names the reason: $(grep -h -m1 "data_protection differs" "$CDIR/n1.log" "$CDIR/n3.log" | head -1)"
else
	bad "no log line names the data_protection mismatch"
fi

# the same stream with data_protection = none everywhere
timeout 60 "$CLUSTER" down >/dev/null 2>&1
for ns in "${JOBS[@]}"; do ip netns del "$ns" 2>/dev/null; done
JOBS=()
unset VNET_REKEY_INTERVAL
VNET_DATA_PROTECTION=none cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 2 0
check "none: n1 and n2 route both jobs" wait_jobs_routed 10
check "none: n1's data link to n2 is not sealed" test "$(link_field 1 n2 protection)" = none
stream "$P-j1" "$P-j2" 2 "data_protection = none"
finish
