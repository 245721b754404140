#!/usr/bin/env bash
# Three nodes, a job on each and a second job on n1: every job reaches every other over
# IPv4 and IPv6, and every node's route table holds every VIP with its node and epoch.
. "$(dirname "$0")/lib.sh"
need ping

cluster_up 3
job "$P-j1" 1 0
job "$P-j2" 2 0
job "$P-j3" 3 0
job "$P-j4" 1 1
ALL="$P-j1 $P-j2 $P-j3 $P-j4"

check "every node routes every job VIP (within 30 s)" wait_jobs_routed 30

for a in $ALL; do
	for b in $ALL; do
		[ "$a" = "$b" ] && continue
		check "ping $a (n${NODE_OF[$a]}) -> $b (n${NODE_OF[$b]}) ${VIP4[$b]}" \
			q jx "$a" ping -q -c 2 -i 0.2 -W 2 "${VIP4[$b]}"
		check "ping -6 $a (n${NODE_OF[$a]}) -> $b (n${NODE_OF[$b]}) ${VIP6[$b]}" \
			q jx "$a" ping -6 -q -c 2 -i 0.2 -W 2 "${VIP6[$b]}"
	done
done

# routes --json: each VIP once per node, with the hosting node and an integer epoch >= 1
for k in 1 2 3; do
	want=""
	for j in $ALL; do want="$want ${VIP4[$j]}=n${NODE_OF[$j]} ${VIP6[$j]}=n${NODE_OF[$j]}"; done
	# shellcheck disable=SC2086
	if why=$(ctl $k --json routes | python3 -c '
import ipaddress, json, sys
r = json.load(sys.stdin)
bad = []
for w in sys.argv[1:]:
    vip, node = w.split("=")
    m = [e for e in r if ipaddress.ip_address(str(e.get("vip", "")).split("/")[0]) ==
         ipaddress.ip_address(vip)]
    if len(m) != 1:
        bad.append("%s listed %d times" % (vip, len(m))); continue
    e = m[0]
    if str(e.get("node")) != node:
        bad.append("%s on %r, not %s" % (vip, e.get("node"), node))
    if not isinstance(e.get("epoch"), int) or isinstance(e.get("epoch"), bool) or e["epoch"] < 1:
        bad.append("%s epoch %r" % (vip, e.get("epoch")))
print("; ".join(bad))
sys.exit(1 if bad else 0)' $want 2>&1); then
		ok "routes --json on n$k: every VIP with its node and epoch"
	else
		bad "routes --json on n$k: $why"
	fi
done

# a route is local on the node that hosts it only
if ctl 1 --json routes | python3 -c 'import json, sys
r = json.load(sys.stdin)
sys.exit(0 if all(bool(e.get("local")) == (str(e.get("node")) in ("n1", "1")) for e in r) else 1)'
then ok "routes --json on n1: local is true exactly for n1's VIPs"
else bad "routes --json on n1: wrong local flags"; fi

finish
