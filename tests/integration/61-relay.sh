#!/usr/bin/env bash
# A relay between two nodes, as an outside host on the underlay would try it. n3 seeds
# the relay (198.18.0.50) instead of n1, and n1 and n3 cannot reach each other directly,
# so everything between them goes through the relay (tests/tools/underlay.py):
#   A  the relay holds no certificate and forwards bytes: the link through it is TLS end to
#      end, n1 and n3 meet as themselves (and traffic between their jobs flows); a relay
#      that alters one byte gets no link up at all.
#   B  the relay holds a valid certificate of its own ("relay") and terminates TLS on both
#      sides, relaying the frames it decrypts: passing the nodes' HELLOs on, it is refused
#      by both (HELLO names another node than the certificate); saying HELLO as itself, it
#      is up as "relay" and nothing else, and what it relays or injects in its own name
#      (n3's and n1's ROUTES, a DATA frame from n3's VIP) is refused and counted.
# In no case does any node list a peer as up under a name other than its own.
# timeout: 360
. "$(dirname "$0")/lib.sh"
need python3 ping
VCA=$ROOT/scripts/vnet-ca
UNDERLAY=$ROOT/tests/tools/underlay.py
X=$P-x50
RELAY=198.18.0.50:7000

cluster_up 2
outsider "$X" 198.18.0.50
sever 1 198.18.0.3
"$VCA" issue "$CDIR/ca" relay >/dev/null || abort "vnet-ca issue relay"

RPID=
# relay LOG ARGS...: (re)starts the relay as the only one, logging to $T/LOG
relay() {
	local log=$T/$1
	shift
	[ -n "$RPID" ] && { kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
	: >"$log"
	spawn ip netns exec "$X" python3 "$UNDERLAY" "$@" --listen "$RELAY" --to 198.18.0.1:7000 \
		--log "$log"
	RPID=$!
	wait_until 10 grep -q ready "$log" || abort "the relay did not start: $*"
}
# up_only K NAME...: node K lists no peer as up but these
up_only() {
	local k=$1 n
	shift
	for n in $(peers_up "$k"); do
		case " $* " in *" $n "*) ;; *) echo "n$k lists $n as up" >&2; return 1 ;; esac
	done
}
# lines K PATTERN: how many lines of nK's log match
lines() { grep -cE "$2" "$CDIR/n$1.log"; }
count_ge() { [ "$(grep -cE "$2" "$1")" -ge "$3" ]; }
past() { [ "$1" -gt "$2" ] 2>/dev/null; }

# --- A: a relay without a certificate, forwarding bytes --------------------------------
relay a.log relay
if out=$(VNET_SEEDS="3=$RELAY" timeout 60 "$CLUSTER" add 3 2>&1); then
	ok "n3, seeding only the relay, joined: $out"
	NODES=3
else
	abort "n3 did not join through the relay: $out"
fi
check "A: the relay carried a TLS connection (n3's control link to n1)" grep -q "tls from 198.18.0.3" "$T/a.log"
check "A: n1 lists n3 up, n3 lists n1 up" eval 'peer_up 1 n3 && peer_up 3 n1'
has_data() { [ "$(peer_field "$1" "$2" 'any(l["role"] == "data" for l in e["links"])')" = true ]; }
check "A: n1 has a data link with n3 (through the relay too)" \
	wait_until 10 eval 'count_ge "$T/a.log" "plain from 198.18.0.3" 1 && has_data 1 n3'
for k in 1 2 3; do
	check "A: n$k lists only n1..n3 as up" up_only "$k" n1 n2 n3
done
job "$P-j1" 1 0
job "$P-j3" 3 0
check "A: both jobs routed everywhere" wait_jobs_routed 10
check "A: ping from n3's job to n1's job, through the relay" \
	wait_until 10 q jx "$P-j3" ping -c 1 -W 1 "${VIP4[$P-j1]}"
info "relay A: $(grep -c conn "$T/a.log") connection(s): $(cut -d' ' -f3- "$T/a.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"

# --- A': the same relay altering one byte in each direction -------------------------------
n1up=$(lines 1 "peer n3 up")
n3up=$(lines 3 "peer n1 up")
relay flip.log relay --flip
check "A': n3 and n1 dropped each other once the relay was replaced" \
	wait_until 20 eval '! peer_up 1 n3 && ! peer_up 3 n1'
if wait_until 40 count_ge "$T/flip.log" "tls from 198.18.0.3" 3; then
	ok "A': n3 dialed through the altering relay $(grep -c "tls from" "$T/flip.log") times"
else
	bad "A': n3 did not dial through the altering relay 3 times in 40 s"
fi
check "A': no link came up through it (n1 never lists n3 up, n3 never n1)" \
	eval '[ "$(lines 1 "peer n3 up")" = "$n1up" ] && [ "$(lines 3 "peer n1 up")" = "$n3up" ] && ! peer_up 1 n3'
info "A': n1 on the altered handshakes: $(grep -E "198\.18\.0\.50" "$CDIR/n1.log" | grep -vE 'peer .* up' | tail -n 1)"

# --- B: a relay with its own certificate terminating TLS, passing the HELLOs on -------
r1=$(stat 1 counters.handshake_refused)
r3=$(stat 3 counters.handshake_refused)
relay b1.log tls-relay --ca "$CDIR/ca/ca.crt" --cert "$CDIR/ca/relay.crt" --key "$CDIR/ca/relay.key"
if wait_until 30 count_ge "$T/b1.log" "HELLO from n1 passed on" 2; then
	ok "B: the relay terminated TLS with n3 and n1 and passed their HELLOs on, twice"
else
	bad "B: the relay did not pass HELLOs between n3 and n1: $(tail -n 3 "$T/b1.log" | tr '\n' '|')"
fi
check "B: n1 refused and counted it" \
	wait_until 10 eval 'past "$(stat 1 counters.handshake_refused)" "$r1"'
check "B: n3 refused and counted it" \
	wait_until 10 eval 'past "$(stat 3 counters.handshake_refused)" "$r3"'
check "B: n1's log: the HELLO names n3 but the certificate \"relay\"" \
	grep -q 'HELLO says "n3" but the certificate names "relay"' "$CDIR/n1.log"
check "B: n3's log: the HELLO names n1 but the certificate \"relay\"" \
	grep -q 'HELLO says "n1" but the certificate names "relay"' "$CDIR/n3.log"
check "B: n1 lists only n2 up" up_only 1 n2
check "B: n3 lists only n2 up" up_only 3 n2

# --- B': the relay as itself, relaying and injecting in its own name -------------------
# n1's job listens on UDP port 9: the relay's injected datagram must not arrive
spawn jx "$P-j1" timeout 120 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(2048)
    print(a[0], d.decode(errors="replace"), flush=True)' >"$T/udp9"
wait_until 5 grep -q ready "$T/udp9" || bad "UDP listener in n1's job did not start"
no1=$(stat 1 counters.routes_not_own)
no3=$(stat 3 counters.routes_not_own)
sp1=$(stat 1 drops.spoofed_source_peer)
relay b2.log tls-relay --ca "$CDIR/ca/ca.crt" --cert "$CDIR/ca/relay.crt" --key "$CDIR/ca/relay.key" \
	--as relay --inject "${VIP4[$P-j3]}" "${VIP4[$P-j1]}"
check "B': n1 and n3 list the relay up, as \"relay\"" wait_until 30 eval 'peer_up 1 relay && peer_up 3 relay'
check "B': the relay injected DATA from n3's VIP into n1" wait_until 10 grep -q "injected DATA" "$T/b2.log"
check "B': n1 refused n3's ROUTES relayed in the relay's name" \
	wait_until 10 eval 'past "$(stat 1 counters.routes_not_own)" "$no1"'
check "B': n3 refused n1's ROUTES relayed in the relay's name" \
	wait_until 10 eval 'past "$(stat 3 counters.routes_not_own)" "$no3"'
check "B': n1 dropped the injected DATA" \
	wait_until 10 eval 'past "$(stat 1 drops.spoofed_source_peer)" "$sp1"'
check "B': n1's job received nothing from the relay" eval '! grep -q relay-injected "$T/udp9"'
for k in 1 2 3; do
	check "B': n$k lists nobody up but real nodes (as themselves) and \"relay\"" up_only "$k" n1 n2 n3 relay
done
check "B': n1 does not list n3 up, n3 does not list n1 up" eval '! peer_up 1 n3 && ! peer_up 3 n1'
no_relay_routes() {
	local k
	for k in 1 2 3; do
		ctl "$k" --json routes | python3 -c 'import json, sys
sys.exit(1 if any(e.get("node") == "relay" for e in json.load(sys.stdin)) else 0)' || return 1
	done
}
check "B': no node routes anything to \"relay\"" no_relay_routes
# route_node K VIP: the node K routes VIP to
route_node() {
	ctl "$1" --json routes | python3 -c 'import json, sys
print(" ".join(e["node"] for e in json.load(sys.stdin) if str(e["vip"]).split("/")[0] == sys.argv[1]))' "$2"
}
check "B': n2 (not relayed) still routes n1's and n3's jobs to them" \
	eval '[ "$(route_node 2 "${VIP4[$P-j1]}")" = n1 ] && [ "$(route_node 2 "${VIP4[$P-j3]}")" = n3 ]'
check "B': n1 routes its own job to itself, n3 its own to itself" \
	eval '[ "$(route_node 1 "${VIP4[$P-j1]}")" = n1 ] && [ "$(route_node 3 "${VIP4[$P-j3]}")" = n3 ]'
info "B': n1 routes n3's job to '$(route_node 1 "${VIP4[$P-j3]}")', n3 routes n1's job to '$(route_node 3 "${VIP4[$P-j1]}")'"
for k in 1 3; do
	info "B': n$k routes_not_own $(stat $k counters.routes_not_own), handshake_refused $(stat $k counters.handshake_refused), spoofed_source_peer $(stat $k drops.spoofed_source_peer)"
done
check "n1 and n2 stay meshed throughout" eval 'peer_up 1 n2 && peer_up 2 n1'
# through_relay_only K NAME...: every peer nK saw up over the relay's address is one of these
through_relay_only() {
	local k=$1 n
	shift
	for n in $(grep -oE "peer [^ ]+ up \(198\.18\.0\.50" "$CDIR/n$k.log" | cut -d' ' -f2 | sort -u); do
		case " $* " in *" $n "*) ;; *) echo "n$k had $n up through the relay" >&2; return 1 ;; esac
	done
}
check "the logs: through the relay, n1 only ever had n3 (A, end to end) or \"relay\" (B') up" \
	through_relay_only 1 n3 relay
check "the logs: through the relay, n3 only ever had n1 (A) or \"relay\" (B') up" \
	through_relay_only 3 n1 relay
check "the logs: through the relay, n2 only ever had \"relay\" up" through_relay_only 2 relay

finish
