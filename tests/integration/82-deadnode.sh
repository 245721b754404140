#!/usr/bin/env bash
# A dead node (tunvnet/liveness.h): n3's daemon is killed and not restarted. Within
# peer_timeout (6 s by default) of its last frame n1 declares it dead: a ping from a job
# on n1 to n3's job gets "Destination Host Unreachable" (ICMPv6: address unreachable)
# from n1, and `vnetctl routes` shows n3's routes unreachable (text and --json). While
# n3 is dead, one of its VIPs moves to n2 (standby attach, activate). When n3 comes back
# its other route is live again, the moved VIP keeps n2's newer epoch everywhere (n3
# gives its job up), and the ping works again.
. "$(dirname "$0")/lib.sh"
need ping python3
TIMEOUT=6   # the default peer_timeout, tunvnet.conf(5)

cluster_up 3
job "$P-j1" 1 0
job "$P-j3" 3 0
job "$P-j4" 3 1
check "every node routes every job" wait_jobs_routed 30
check "$P-j1 -> $P-j3 answers" wait_until 10 q jx "$P-j1" ping -c 1 -W 1 "${VIP4[$P-j3]}"

# state K VIP: the state of node K's route to VIP ("" if none), from routes --json.
rstate() {
	ctl "$1" --json routes 2>/dev/null | python3 -c 'import json, sys
for e in json.load(sys.stdin):
    if e.get("vip", "").split("/")[0] == sys.argv[1]:
        print(e.get("state"), e.get("node"), e.get("epoch"))' "$2"
}
unreach4() {
	jx "$P-j1" ping -c 1 -W 1 "${VIP4[$P-j3]}" 2>&1 |
		grep -q "^From ${VIP4[$P-j3]} icmp_seq=1 Destination Host Unreachable"
}

t0=$EPOCHREALTIME
"$CLUSTER" stop 3 --kill || abort "cannot kill n3's daemon"
if wait_until $((3 * TIMEOUT)) unreach4; then
	ok "ping $P-j1 -> $P-j3 (n3 dead): Destination Host Unreachable, $(awk -v a="$t0" \
		-v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the kill"
else
	bad "ping $P-j1 -> $P-j3: no Destination Host Unreachable $((3 * TIMEOUT)) s after the kill"
fi
check "n1's log says n3 was declared dead after its peer_timeout" \
	grep -q "peer n3: nothing heard for [0-9]* ms (peer_timeout $TIMEOUT s): declared dead" \
	"$CDIR/n1.log"
out6=$(jx "$P-j1" ping -c 1 -W 2 "${VIP6[$P-j3]}" 2>&1)
if grep -q "^From ${VIP6[$P-j3]} icmp_seq=1 Destination unreachable: Address unreachable" <<<"$out6"; then
	ok "ping6 to $P-j3: Address unreachable (ICMPv6)"
else
	bad "ping6 to $P-j3: $(tr '\n' '|' <<<"$out6")"
fi
check "routes --json on n1: ${VIP4[$P-j3]} unreachable" \
	eval '[ "$(rstate 1 "${VIP4[$P-j3]}" | cut -d" " -f1)" = unreachable ]'
row=$(ctl 1 routes | grep -E "^${VIP4[$P-j3]} ")
check "routes on n1 (text): ${VIP4[$P-j3]} row says unreachable ($row)" \
	grep -qE " unreachable *$" <<<"$row"
row=$(ctl 1 routes | grep -E "^${VIP4[$P-j1]} ")
check "routes on n1 (text): its own ${VIP4[$P-j1]} is up ($row)" grep -qE " up *$" <<<"$row"

# While n3 is dead, $P-j4's VIP moves to n2 (as a restore there would).
read -r _ _ e4 <<<"$(rstate 1 "${VIP4[$P-j4]}")"
ip netns add "$P-j5" || abort "ip netns add $P-j5"
JOBS+=("$P-j5")
ip -n "$P-j5" link set lo up
check "n2: standby attach of ${VIP4[$P-j4]}" \
	q ctl 2 attach --standby --netns "$P-j5" --vip "${VIP4[$P-j4]}"
check "n2: activate ${VIP4[$P-j4]} while n3 is dead" q ctl 2 activate --vip "${VIP4[$P-j4]}"
check "n1 routes it to n2 at epoch $((e4 + 1))" \
	wait_until 10 eval '[ "$(rstate 1 "${VIP4[$P-j4]}")" = "up n2 $((e4 + 1))" ]'

"$CLUSTER" start 3 || abort "n3 does not start again"
check "n3 back: ping $P-j1 -> $P-j3 works again" \
	wait_until 30 q jx "$P-j1" ping -c 1 -W 1 "${VIP4[$P-j3]}"
check "n3 back: n1 shows its route up" \
	eval '[ "$(rstate 1 "${VIP4[$P-j3]}" | cut -d" " -f1)" = up ]'
for k in 1 2 3; do
	check "n$k: the moved VIP keeps n2's newer epoch" \
		wait_until 10 eval '[ "$(rstate $k "${VIP4[$P-j4]}")" = "up n2 $((e4 + 1))" ]'
done
check "n3 gave up its job of the moved VIP" \
	wait_until 10 eval '! ctl 3 --json jobs | grep -q "\"${VIP4[$P-j4]}\""'

finish
