#!/usr/bin/env bash
# The etcd route store on a three-member etcd cluster (VNET_ETCD=3, every node given all
# three endpoints), over TLS with client certificates (VNET_ETCD_TLS=1: etcd serves
# https only, --client-cert-auth; the nodes have etcd_ca, etcd_cert, etcd_key): the
# member the nodes talk to first is killed; the nodes move on to another member, and
# moves still converge on every node with traffic flowing.
# timeout: 120
. "$(dirname "$0")/lib.sh"
need ping etcdctl
[ -x /usr/bin/etcd ] || abort "etcd is not installed (scripts/deps.sh: etcd-server)"
export VNET_ETCD=3 VNET_LEASE_TTL=3 VNET_ETCD_TLS=1

cluster_up 3
job "$P-j1" 1 0
job "$P-j2" 2 0
check "every node routes every job VIP" wait_jobs_routed 30
watching_https() {
	local k
	for k in 1 2 3; do
		grep -q "route store etcd (https://198.18.0.20[123]:2379): watching" "$CDIR/n$k.log" ||
			return 1
	done
}
check "every node watches etcd over https" watching_https
# etcd asks for client certificates: without one it refuses (the nodes have theirs)
if ip netns exec "$P-e2" curl -s -m 3 --cacert "$CDIR/etcd-pki/ca.crt" -X POST \
	-d '{"key":"Lw=="}' https://198.18.0.202:2379/v3/kv/range >/dev/null 2>&1; then
	bad "etcd answered a client without a certificate"
else
	ok "etcd refuses a client without a certificate"
fi

# move V from node $1 (hosting it, job namespace $2) to node $3 (standby in namespace $4)
move() {
	local from=$1 to=$3 vip=$5 out
	ctl "$to" attach --netns "$4" --vip "$vip" --standby >/dev/null || { bad "standby on n$to"; return 1; }
	ctl "$from" suspend --vip "$vip" >/dev/null || { bad "suspend on n$from"; return 1; }
	if out=$(ctl "$to" activate --vip "$vip" 2>&1); then ok "activate $vip on n$to: $out"
	else bad "activate $vip on n$to: $out"; return 1; fi
	check "the move converges: every node routes $vip to n$to" wait_until 15 routes_ok "$vip" "$to"
}

V=${VIP4[$P-j1]}
ip netns add "$P-jm3" && JOBS+=("$P-jm3") || abort "netns"
move 1 "$P-j1" 3 "$P-jm3" "$V"

"$CLUSTER" etcd-stop 1 || abort "cannot kill etcd member e1"
ok "etcd member e1 killed (the first endpoint of every node)"
# the nodes move on to e2 or e3; activate may fail once while a node finds out
watch_other() {
	local k
	for k in 1 2 3; do
		grep -q "route store etcd (https://198.18.0.20[23]:2379): watching" "$CDIR/n$k.log" ||
			return 1
	done
}
check "every node watches another member" wait_until 20 watch_other
ip netns add "$P-jm2" && JOBS+=("$P-jm2") || abort "netns"
move 3 "$P-jm3" 2 "$P-jm2" "$V"
check "traffic to the moved job: j2 (n2) -> $V (n2, local)" q jx "$P-j2" ping -q -c 3 -i 0.2 -W 2 "$V"
ip netns add "$P-jm1" && JOBS+=("$P-jm1") || abort "netns"
move 2 "$P-jm2" 1 "$P-jm1" "$V"
check "traffic j2 (n2) -> $V (n1)" q jx "$P-j2" ping -q -c 3 -i 0.2 -W 2 "$V"
finish
