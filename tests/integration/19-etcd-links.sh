#!/usr/bin/env bash
# Links on demand ([store] links = on_demand, the default with route_store = etcd): four
# nodes on a real etcd (scripts/vnet-cluster VNET_ETCD=1) with link_idle = 3 s.
#  A. the nodes know each other from the store alone (no seeds dialed, no PEERS): every
#     node lists the three others "idle" and holds no link.
#  B. the first packet to a node without a link waits for it and arrives (one ping, one
#     answer); only the two nodes that talk get a link; the others stay without.
#  C. nothing said for link_idle: the link is closed on both sides, the routes stay
#     reachable past peer_timeout (a link's end is not a node's death), and the next
#     packet makes a new link.
#  D. the far daemon stopped (SIGSTOP, its lease still alive): what waits for the link is
#     dropped after the wait (counted in wait_drops), and traffic flows once it runs again.
#  E. a writer deletes n4's registration (its node key): n4 puts it back at once, and
#     every node knows n4 again.
# timeout: 150
. "$(dirname "$0")/lib.sh"
need ping python3 etcdctl
[ -x /usr/bin/etcd ] || abort "etcd is not installed (scripts/deps.sh: etcd-server)"
export VNET_ETCD=1 VNET_LEASE_TTL=30 VNET_STORE_LINES="link_idle = 3"

# state_of K NODE: node K's state for NODE ("" when not listed)
state_of() { peer_field "$1" "$2" 'e["state"]'; }
# links_of K: how many peers node K lists "up"
links_of() { peers_up "$1" | grep -c . ; }
no_links_anywhere() {
	local k
	for k in 1 2 3 4; do [ "$(links_of "$k")" = 0 ] || return 1; done
}
all_idle() {
	local a b
	for a in 1 2 3 4; do
		for b in 1 2 3 4; do
			[ "$a" = "$b" ] || [ "$(state_of "$a" "n$b")" = idle ] || return 1
		done
	done
}
route_state() {  # K VIP: the route's state on node K
	ctl "$1" --json routes 2>/dev/null |
		jget "([e.get('state', '?') for e in d if e['vip'] == '$2'] + [''])[0]"
}

cluster_up 4
# --- A. the directory -------------------------------------------------------------------
check "A: every node lists the three others idle (from the store)" wait_until 30 all_idle
check "A: no node holds a link" no_links_anywhere
if grep -q "links on demand" "$CDIR/n1.log"; then ok "A: n1 says it makes links on demand"
else bad "A: n1's log does not mention links on demand"; fi

# --- B. the first packet waits for the link ----------------------------------------------
job "$P-j1" 1 0
job "$P-j2" 2 0
job "$P-j3" 3 0
check "B: every node routes every job VIP" wait_jobs_routed 30
check "B: still no link anywhere (routes come from the store)" no_links_anywhere
V2=${VIP4[$P-j2]}
d0=$(pcount 1 demand_dials)
if out=$(jx "$P-j1" ping -c 1 -W 10 "$V2" 2>&1); then
	ok "B: one ping j1 -> j2 over a link made for it is answered: $(grep -o 'time=[0-9.]* ms' <<<"$out")"
else
	bad "B: the first ping was lost: $(tr '\n' '|' <<<"$out")"
fi
check "B: n1 made the link on demand (demand_dials up)" \
	eval '[ "$(pcount 1 demand_dials)" -gt "${d0:-0}" ]'
check "B: n1 - n2 linked" eval '[ "$(state_of 1 n2)" = up ] && [ "$(state_of 2 n1)" = up ]'
if [ "$(state_of 1 n3)" = idle ] && [ "$(state_of 1 n4)" = idle ] &&
	[ "$(links_of 3)" = 0 ] && [ "$(links_of 4)" = 0 ]; then
	ok "B: n3 and n4 have no link (nobody sent to them)"
else
	bad "B: links: n1 $(peers_up 1 | tr '\n' ' '), n3 $(links_of 3), n4 $(links_of 4)"
fi

# --- C. idle links close; routes stay ---------------------------------------------------
check "C: the n1 - n2 link closes after link_idle (3 s) of silence" wait_until 30 \
	eval '[ "$(state_of 1 n2)" = idle ] && [ "$(state_of 2 n1)" = idle ]'
c1=$(pcount 1 idle_closed) c2=$(pcount 2 idle_closed)
if [ $((${c1:-0} + ${c2:-0})) -ge 1 ]; then ok "C: counted as idle_closed (n1 $c1, n2 $c2)"
else bad "C: idle_closed n1 '$c1' n2 '$c2'"; fi
# past peer_timeout (6 s) since the link ended: still reachable
check "C: n2 has been without its link past peer_timeout" wait_until 30 \
	eval '[ "$(peer_field 1 n2 "e[\"since_s\"]")" -ge 8 ]'
st=$(route_state 1 "$V2")
if [ "$st" = up ]; then ok "C: j2's route on n1 is still $st"
else bad "C: j2's route on n1 is '$st' after the idle close"; fi
check "C: the next packets make a new link (5 pings, none lost)" \
	q jx "$P-j1" ping -q -c 5 -i 0.2 -W 10 "$V2"

# --- D. a bounded wait --------------------------------------------------------------------
V3=${VIP4[$P-j3]}
pid3=$(daemon_pid 3)
[ -n "$pid3" ] || abort "D: no PID for n3"
w0=$(pcount 1 wait_drops)
kill -STOP "$pid3"
jx "$P-j1" ping -q -c 3 -i 0.2 -W 1 "$V3" >/dev/null 2>&1
check "D: what waited for a link to the stopped n3 is dropped after the wait" \
	wait_until 30 eval '[ "$(pcount 1 wait_drops)" -gt "${w0:-0}" ]'
info "D: n1 wait_drops $(pcount 1 wait_drops), n1's state for n3: $(state_of 1 n3)"
kill -CONT "$pid3"
check "D: n3 runs again: j1 -> j3 works" wait_until 40 \
	q jx "$P-j1" ping -q -c 1 -W 3 "$V3"

# --- E. a node's registration deleted by a writer ---------------------------------------
etcd1() {
	ip netns exec "$P-e1" env ETCDCTL_API=3 etcdctl --endpoints http://198.18.0.201:2379 "$@"
}
n=$(etcd1 del "/$P/node/n4") || bad "E: etcdctl del /$P/node/n4"
[ "$n" = 1 ] && ok "E: a writer deleted /$P/node/n4" || bad "E: etcdctl del deleted '$n' keys"
check "E: n4 says so and registers again" wait_until 15 grep -q \
	"registration /$P/node/n4 was deleted: registering again" "$CDIR/n4.log"
check "E: etcd holds /$P/node/n4 again" wait_until 15 eval \
	'etcd1 get --print-value-only "/$P/node/n4" | grep -q fingerprint'
for k in 1 2 3; do
	check "E: n$k knows n4" wait_until 15 peer_known $k n4
done
finish
