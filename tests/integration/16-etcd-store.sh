#!/usr/bin/env bash
# The etcd route store (route_store = etcd) against a real etcd (Debian's etcd-server)
# that scripts/vnet-cluster starts in a namespace on the underlay (VNET_ETCD=1), with a
# lease TTL of 3 s:
#  A. every node registers and watches; jobs on all three reach each other, routes come
#     from the store only (the peers' ROUTES frames are not used).
#  B. two nodes activate one VIP at the same time: exactly one wins, the other gets
#     CONFLICT naming the winner and its job is back on standby.
#  C. etcd stopped during traffic: the traffic goes on; an attach fails with an error
#     naming the store; etcd back: an attach works and the next move converges.
#  D. a watch that lags behind the txns: n2 talks to etcd through a relay on the underlay
#     (tests/tools/underlay.py relay --hold) that holds back what its watch brings. A VIP's
#     key is written again as it is (what its node does republishing after a reconnect),
#     then n2 takes the VIP over; the watch, let go, brings the older write after n2's
#     txn was answered: n2 keeps the job, and every node routes the VIP to n2. Then an
#     activation on n2 whose txn never reaches etcd (the relay cuts it, every try) fails,
#     and n2, connected again, withdraws only its own claim: the old node's key stays as
#     it was. Then one whose txn is applied but whose answer is cut: n2 sends it again
#     once connected, learns it won, and the activation succeeds (n2 hosts the VIP).
#  E. a node's daemon killed: its VIPs are withdrawn on every node within the lease TTL
#     (plus the watch's delivery), and a sender gets ICMP unreachable.
# timeout: 120
. "$(dirname "$0")/lib.sh"
need ping python3 etcdctl nft
[ -x /usr/bin/etcd ] || abort "etcd is not installed (scripts/deps.sh: etcd-server)"
export VNET_ETCD=1 VNET_LEASE_TTL=3
TTL=3

# route_of K VIP: "node epoch" of VIP in node K's table ("" when none)
route_of() {
	ctl "$1" --json routes 2>/dev/null |
		jget "([e['node'] + ' ' + str(e['epoch']) for e in d if e['vip'] == '$2'] + [''])[0]"
}
job_state() {
	ctl "$1" --json jobs 2>/dev/null |
		jget "([j.get('state', '?') for j in d if '$2' in j['vips']] + [''])[0]" 2>/dev/null
}
unrouted_everywhere() {  # VIP NODES...
	local vip=$1 k
	shift
	for k in "$@"; do [ -z "$(route_of "$k" "$vip")" ] || return 1; done
}

cluster_up 3
for k in 1 2 3; do
	check "n$k watches the store" wait_until 15 grep -q "route store etcd.*watching /$P/" \
		"$CDIR/n$k.log"
done

# --- A. mesh traffic over routes from the store --------------------------------------
job "$P-j1" 1 0
job "$P-j2" 2 0
job "$P-j3" 3 0
check "A: every node routes every job VIP (from the store)" wait_jobs_routed 30
for a in 1 2 3; do
	for b in 1 2 3; do
		[ $a = $b ] && continue
		check "A: ping j$a (n$a) -> j$b (n$b)" q jx "$P-j$a" ping -q -c 2 -i 0.2 -W 2 \
			"${VIP4[$P-j$b]}"
	done
done
# the store holds each VIP's key with its node and epoch, and each node's registration
keys=$(ip netns exec "$P-e1" env ETCDCTL_API=3 etcdctl --endpoints http://198.18.0.201:2379 \
	get --prefix "/$P/" 2>&1)
for j in 1 2 3; do
	if grep -A1 -x "/$P/vip/${VIP4[$P-j$j]}" <<<"$keys" | grep -q "\"node\":\"n$j\""; then
		ok "A: etcd holds /$P/vip/${VIP4[$P-j$j]} -> n$j"
	else
		bad "A: etcd lacks /$P/vip/${VIP4[$P-j$j]} -> n$j: $(tr '\n' ' ' <<<"$keys" | head -c 300)"
	fi
	if grep -A1 -x "/$P/node/n$j" <<<"$keys" | grep -q '"fingerprint":"sha256:'; then
		ok "A: etcd holds n$j's registration with its certificate's fingerprint"
	else
		bad "A: etcd lacks /$P/node/n$j"
	fi
done

# --- B. simultaneous activation -----------------------------------------------------
VB=198.19.1.40
ip netns add "$P-jb1" && ip netns add "$P-jb2" && ip netns add "$P-jb3" || abort "B: netns"
JOBS+=("$P-jb1" "$P-jb2" "$P-jb3")
ctl 1 attach --netns "$P-jb1" --vip $VB >/dev/null && \
	ctl 2 attach --netns "$P-jb2" --vip $VB --standby >/dev/null && \
	ctl 3 attach --netns "$P-jb3" --vip $VB --standby >/dev/null || abort "B: attach"
check "B: $VB routed to n1 everywhere" wait_until 15 routes_ok $VB 1
ctl 1 suspend --vip $VB >/dev/null || bad "B: suspend on n1"
# etcd stopped for a moment: both transactions are surely in flight together, each
# expecting n1's entry; etcd then applies one and refuses the other.
epid=$(cat "$CDIR/e1.pid")
kill -STOP "$epid"
ctl 2 activate --vip $VB >"$T/act2" 2>&1 &
a2=$!
ctl 3 activate --vip $VB >"$T/act3" 2>&1 &
a3=$!
wait_until 5 eval 'grep -q "job $P-jb2 .* activated" "$CDIR/n2.log" &&
	grep -q "job $P-jb3 .* activated" "$CDIR/n3.log"' || info "B: the activations did not both start"
kill -CONT "$epid"
wait $a2; r2=$?
wait $a3; r3=$?
info "B: n2 activate: exit $r2: $(cat "$T/act2")"
info "B: n3 activate: exit $r3: $(cat "$T/act3")"
if [ $r2 = 0 ] && [ $r3 != 0 ]; then win=2 lose=3
elif [ $r3 = 0 ] && [ $r2 != 0 ]; then win=3 lose=2
else win="" lose=""; fi
if [ -n "$win" ]; then
	ok "B: exactly one activation won (n$win)"
	if grep -q "activated on n$win at the same time" "$T/act$lose"; then
		ok "B: the loser is refused (CONFLICT) naming n$win"
	else
		bad "B: the loser's error: $(cat "$T/act$lose")"
	fi
	check "B: every node routes $VB to n$win" wait_until 15 routes_ok $VB $win
	check "B: n$lose's job is back on standby" wait_until 15 \
		eval '[ "$(job_state $lose $VB)" = standby ]'
else
	bad "B: n2 exit $r2, n3 exit $r3 (want exactly one 0)"
fi

# --- C. etcd stopped during traffic ---------------------------------------------------
"$CLUSTER" etcd-stop 1 || abort "C: cannot stop etcd"
check "C: n1 notices the store is gone" wait_until 15 grep -q "route store etcd.*\(watch ended\|failed\|refused\)" \
	"$CDIR/n1.log"
check "C: traffic goes on without the store (j1 -> j2, 10 pings, none lost)" \
	q jx "$P-j1" ping -q -c 10 -i 0.1 -W 2 "${VIP4[$P-j2]}"
ip netns add "$P-jc" || abort "C: netns"
JOBS+=("$P-jc")
if out=$(ctl 1 attach --netns "$P-jc" --vip 198.19.1.50 2>&1); then
	bad "C: attach with etcd down succeeded: $out"
else
	if grep -q "route store etcd" <<<"$out"; then ok "C: attach fails naming the store: $out"
	else bad "C: attach's error does not name the store: $out"; fi
fi
"$CLUSTER" etcd-start 1 || abort "C: cannot start etcd again"
check "C: etcd back: an attach works" wait_until 30 q ctl 1 attach --netns "$P-jc" --vip 198.19.1.50
check "C: the new VIP is routed everywhere" wait_until 15 routes_ok 198.19.1.50 1
# the next move: j2's VIP to a standby on n3
V2=${VIP4[$P-j2]}
ip netns add "$P-jm" || abort "C: netns"
JOBS+=("$P-jm")
ctl 3 attach --netns "$P-jm" --vip "$V2" --standby >/dev/null || bad "C: standby attach on n3"
ctl 2 suspend --vip "$V2" >/dev/null || bad "C: suspend on n2"
if out=$(ctl 3 activate --vip "$V2" 2>&1); then ok "C: activate on n3 after the outage"
else bad "C: activate on n3: $out"; fi
check "C: the move converges: every node routes $V2 to n3" wait_until 15 routes_ok "$V2" 3

# --- D. a watch that lags behind the txns -----------------------------------------------
X=$P-x60
HOLD=$T/hold
outsider "$X" 198.18.0.60
: >"$T/relay.log"
spawn ip netns exec "$X" python3 "$ROOT/tests/tools/underlay.py" relay \
	--listen 198.18.0.60:2379 --to 198.18.0.201:2379 --hold "$HOLD" --cut "$T/cut" \
	--cut-reply "$T/cut-reply" --log "$T/relay.log"
wait_until 10 grep -q ready "$T/relay.log" || abort "D: the relay did not start"
# n2's new connections to etcd go to the relay; the ones it has are reset (what n2
# sends on them after the DNAT, a lease keepalive or a TCP keepalive probe, gets a RST:
# the filter hook sees the DNAT's address on new connections only)
watching=$(grep -c "route store etcd.*watching" "$CDIR/n2.log")
ip netns exec "$P-n2" nft -f - <<NFT || abort "D: nft"
table ip tvhold {
	chain nat_out {
		type nat hook output priority -100;
		ip daddr 198.18.0.201 tcp dport 2379 dnat to 198.18.0.60:2379
	}
	chain out {
		type filter hook output priority 0;
		ip daddr 198.18.0.201 tcp dport 2379 reject with tcp reset
	}
}
NFT
check "D: n2 watches etcd through the relay" wait_until 20 eval \
	'grep -q "watch$" "$T/relay.log" &&
	 [ "$(grep -c "route store etcd.*watching" "$CDIR/n2.log")" -gt "$watching" ]'
# move_ready VIP A B: VIP hosted on n1 (job namespace $P-jeA), on standby on n2 ($P-jeB),
# suspended on n1: ready for n2's activate
move_ready() {
	ip netns add "$P-je$2" && ip netns add "$P-je$3" || abort "D: netns"
	JOBS+=("$P-je$2" "$P-je$3")
	ctl 1 attach --netns "$P-je$2" --vip "$1" >/dev/null || abort "D: attach $1 on n1"
	check "D: $1 routed to n1 everywhere" wait_until 15 routes_ok "$1" 1
	ctl 2 attach --netns "$P-je$3" --vip "$1" --standby >/dev/null || bad "D: standby $1 on n2"
	ctl 1 suspend --vip "$1" >/dev/null || bad "D: suspend $1 on n1"
}
VE=198.19.1.60
KE=/$P/vip/$VE
move_ready $VE 1 2
: >"$HOLD"
etcd1() {
	ip netns exec "$P-e1" env ETCDCTL_API=3 etcdctl --endpoints http://198.18.0.201:2379 "$@"
}
# the key written again as it is, in its lease
js=$(etcd1 get -w json "$KE") || bad "D: etcdctl get $KE"
val=$(jget "__import__('base64').b64decode(d['kvs'][0]['value']).decode()" <<<"$js")
lease=$(jget "'%x' % d['kvs'][0]['lease']" <<<"$js")
etcd1 put --lease="$lease" "$KE" "$val" >/dev/null || bad "D: etcdctl put $KE"
check "D: the relay holds n2's watch" wait_until 10 grep -q "held$" "$T/relay.log"
if out=$(ctl 2 activate --vip $VE 2>&1); then ok "D: activate on n2 (its watch held): $out"
else bad "D: activate on n2: $out"; fi
rm -f "$HOLD"
check "D: the watch let go" wait_until 10 grep -q "released" "$T/relay.log"
# a barrier: a VIP written after all that; once n2 routes it, its watch brought the rest
ip netns add "$P-je3" || abort "D: netns"
JOBS+=("$P-je3")
ctl 3 attach --netns "$P-je3" --vip 198.19.3.60 >/dev/null || bad "D: attach on n3"
check "D: n2's watch is past n2's own write (a later VIP routed)" \
	wait_until 15 routes_ok 198.19.3.60 3
check "D: n2 keeps the job (active)" eval '[ "$(job_state 2 $VE)" = active ]'
check "D: every node routes $VE to n2" routes_ok $VE 2
check "D: etcd says n2" eval 'etcd1 get --print-value-only "$KE" | grep -q "\"node\":\"n2\""'
check "D: traffic j1 (n1) -> $VE (n2)" q jx "$P-j1" ping -q -c 3 -i 0.2 -W 2 "$VE"
# an activation whose txn is cut on its way
VF=198.19.1.61
KF=/$P/vip/$VF
move_ready $VF 4 5
kv_f() { etcd1 get -w json "$KF" | jget "(d['kvs'][0]['create_revision'], __import__('base64').b64decode(d['kvs'][0]['value']).decode())"; }
before=$(kv_f)
watching=$(grep -c "route store etcd.*watching" "$CDIR/n2.log")
printf %s "$KF" | base64 -w0 >"$T/cut"   # n2's txn for $VF, not another one
if out=$(ctl 2 activate --vip $VF 2>&1); then bad "D: activate with its txn cut succeeded: $out"
else
	grep -q "back on standby" <<<"$out" && ok "D: activate with its txn cut fails: $out" ||
		bad "D: activate with its txn cut: $out"
fi
rm -f "$T/cut"
check "D: the relay cut the txn" grep -q "cut txn" "$T/relay.log"
check "D: n2 connects again" wait_until 20 eval \
	'[ "$(grep -c "route store etcd.*watching" "$CDIR/n2.log")" -gt "$watching" ]'
check "D: n2 routes $VF to n1 again" wait_until 15 eval '[ "$(route_of 2 $VF)" = "n1 1" ]'
after=$(kv_f)
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	ok "D: n1's key for $VF is as it was (never deleted): $after"
else
	bad "D: n1's key for $VF was '$before', is '$after'"
fi
check "D: n1's job still holds $VF (suspended)" eval '[ "$(job_state 1 $VF)" = suspended ]'
# an activation whose txn reaches etcd but whose answer is cut: n2 cannot know it won
VG=198.19.1.62
move_ready $VG 6 7
printf %s "/$P/vip/$VG" | base64 -w0 >"$T/cut-reply"
ctl 2 activate --vip $VG >"$T/actg" 2>&1 &
actg=$!
# every answer about $VG is cut until n2 says it does not know whether its txn was applied
check "D: n2 says its txn for $VG went unanswered" wait_until 15 grep -q \
	"no answer to the txn for $VG" "$CDIR/n2.log"
rm -f "$T/cut-reply"
check "D: the relay cut the txn's answer" grep -q "cut txn reply" "$T/relay.log"
wait $actg && ok "D: activate $VG on n2 succeeds (sent again): $(cat "$T/actg")" ||
	bad "D: activate $VG on n2: $(cat "$T/actg")"
g_settled() {
	[ "$(job_state 2 $VG)" = active ] && routes_ok $VG 2 &&
		etcd1 get --print-value-only "/$P/vip/$VG" | grep -q '"node":"n2"'
}
check "D: the claim that won holds: n2 hosts $VG (active), etcd and every node say n2" \
	wait_until 20 g_settled
check "D: traffic j1 (n1) -> $VG (n2)" q jx "$P-j1" ping -q -c 3 -i 0.2 -W 2 "$VG"

# --- E. a node's daemon killed ----------------------------------------------------------
V3=${VIP4[$P-j3]}
pid=$(daemon_pid 3)
[ -n "$pid" ] || abort "E: no PID for n3"
t0=$(now_us)
kill -KILL "$pid"
if wait_until $((TTL * 3 + 5)) unrouted_everywhere "$V3" 1 2; then
	ms=$(( ($(now_us) - t0) / 1000 ))
	ok "E: n3's VIP $V3 withdrawn on n1 and n2 in $ms ms (lease TTL ${TTL} s)"
	if [ "$ms" -le $((TTL * 1000 + 1500)) ]; then ok "E: within the TTL (+ the store's expiry tick)"
	else info "E: later than the TTL: $ms ms (a loaded machine)"; fi
else
	bad "E: $V3 still routed: n1 '$(route_of 1 "$V3")', n2 '$(route_of 2 "$V3")'"
fi
out=$(jx "$P-j1" ping -c 1 -W 5 "$V3" 2>&1)
if grep -qE "Destination (Host Unreachable|unreachable)" <<<"$out"; then
	ok "E: a ping to $V3 gets ICMP unreachable"
else
	bad "E: ping to $V3: $(tr '\n' '|' <<<"$out")"
fi
finish
