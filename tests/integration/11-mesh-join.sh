#!/usr/bin/env bash
# A larger mesh forms and grows at the cost of O(N) membership entries per join: 16
# nodes started at once (each seeding n1 only) mesh; a 17th joins and every node gets it
# up. Membership is told as hints (PEERS frames, peer_layer.members_heard counts their
# entries): a join must cost O(N) entries, not a whole member list to every peer at
# every link up (the old way: ~32 link ups x 16 peers x 17 entries for this join, which
# at 64 nodes kept the mesh from forming). A node that says nothing during its
# handshake is closed at the deadline and logged.
. "$(dirname "$0")/lib.sh"
need python3
export VNET_CLUSTER_TIMEOUT=120

# heard_all N: member entries heard by nodes 1..N (one stats call each, all at once),
# less those the periodic syncs sent (a whole list to one peer about once a minute per
# node: not the join's)
heard_all() {
	python3 - "$VNETCTL" "$P" "$1" <<'EOF'
import json, subprocess, sys
ctl, p, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
procs = [subprocess.Popen([ctl, "-s", f"/run/tunvnet/{p}-n{k}.sock", "--json", "stats"],
                          stdout=subprocess.PIPE, text=True) for k in range(1, n + 1)]
heard = synced = 0
for pr in procs:
    out, _ = pr.communicate(timeout=20)
    d = json.loads(out)["peer_layer"]
    heard += d["members_heard"]
    synced += d["members_synced"]
print(heard - synced)
EOF
}

t0=$(now_us)
cluster_up 16
info "16 nodes meshed $(( ($(now_us) - t0) / 1000 )) ms after the start"
h0=$(heard_all 16)
# Start-up: the seed tells each newcomer its list and everyone the newcomer; far less
# than a list to every peer at every link up (16 x 15 x 16 / 2 entries and more).
check "16 nodes meshing heard at most 4 x 16 x 16 member entries ($h0)" test "$h0" -le $((4 * 16 * 16))

h0=$(heard_all 16)
t0=$(now_us)
if out=$(timeout 150 "$CLUSTER" add 17 2>&1); then
	ok "n17 joined a 16-node mesh (every node has every other up) in $(( ($(now_us) - t0) / 1000 )) ms: $out"
	NODES=17
else
	NODES=17
	abort "n17 did not join: $out"
fi
h1=$(heard_all 17)
check "the join cost at most 17 x 17 member entries in all ($((h1 - h0)))" \
	test $((h1 - h0)) -le $((17 * 17))

# A stranger on the underlay that connects and says nothing: closed at the handshake
# deadline, counted and logged (at info, rate-limited).
X=$P-x60
outsider "$X" 198.18.0.60
to0=$(pcount 1 handshake_timeouts)
spawn ip netns exec "$X" python3 -c 'import socket, time
s = socket.create_connection(("198.18.0.1", 7000))
time.sleep(60)'
check "n1 closes a silent stranger at the handshake deadline (handshake_timeouts was $to0)" \
	wait_until 30 eval '[ "$(pcount 1 handshake_timeouts)" -gt "$to0" ]'
check "n1 logs the handshake timeout" \
	wait_until 5 grep -q "198.18.0.60.*handshake timed out after" "$CDIR/n1.log"
finish
