#!/usr/bin/env bash
# A man in the middle on the underlay (tests/tools/underlay.py mitm at 198.18.0.50): n2
# seeds it instead of n1 and n1 and n2 cannot reach each other directly, so both their
# links go through it. It passes the control link (TLS) unchanged and watches the data
# link's frames; on command it flips a byte of a sealed DATA frame, drops one, replays an
# earlier one, or inserts a copy with another counter. For each: the receiving node
# detects it (rejected_frames rises), the data link is closed and a new one comes up
# (links[].link rises), routes do not change, a ping between jobs on the two nodes works
# again, and a TCP stream between them that runs through all four arrives intact (sha256
# at both ends). Then with data_protection = none through the same proxy: a data link
# comes up, traffic flows, and a flipped byte goes unnoticed by tunvnet (that is what the
# opt-out means: integrity is left to the jobs' own protocols).
# timeout: 400
. "$(dirname "$0")/lib.sh"
need python3 ping
UNDERLAY=$ROOT/tests/tools/underlay.py
X=$P-x50
PROXY=198.18.0.50:7000

# setup: n1, the proxy, n2 (through the proxy only), a job on each
setup() {
	cluster_up 1
	outsider "$X" 198.18.0.50
	sever 1 198.18.0.2
	: >"$T/mitm.log"
	rm -f "$T/mitm.cmd"
	spawn ip netns exec "$X" python3 "$UNDERLAY" mitm --listen "$PROXY" --to 198.18.0.1:7000 \
		--cmd "$T/mitm.cmd" --log "$T/mitm.log"
	MPID=$!
	wait_until 10 grep -q ready "$T/mitm.log" || abort "the proxy did not start"
	if out=$(VNET_SEEDS="2=$PROXY" timeout 60 "$CLUSTER" add 2 2>&1); then
		ok "n2 joined through the proxy ($(cat "$T/mitm.log" | grep -c conn) connection(s))"
		NODES=2
	else
		abort "n2 did not join through the proxy: $out"
	fi
	check "the proxy carries the control link (TLS, unchanged)" grep -q "tls from 198.18.0.2" "$T/mitm.log"
	check "and a data link (frames watched)" wait_until 10 grep -q "data from 198.18.0.2" "$T/mitm.log"
	PROT=$1
	check "n1 and n2 have a data link ($PROT)" \
		wait_until 10 eval 'data_prot 1 n2 | grep -qx "$PROT" && data_prot 2 n1 | grep -qx "$PROT"'
	job "$JA" 1 "$2"
	job "$JB" 2 "$2"
	check "both jobs routed everywhere" wait_jobs_routed 10
	check "ping from n2's job to n1's job" wait_until 10 q jx "$JB" ping -c 1 -W 1 "${VIP4[$JA]}"
}
data_prot() { peer_field "$1" "$2" '"\n".join(l["protection"] for l in e["links"] if l["role"] == "data")'; }
maxlink() { peer_field "$1" "$2" 'max([l["link"] for l in e["links"] if l["role"] == "data"] or [0])'; }
rejected() { peer_field "$1" "$2" 'e["rejected_frames"]'; }
past() { [ "$1" -gt "$2" ] 2>/dev/null; }
routes_now() {
	local k
	for k in 1 2; do
		ctl "$k" --json routes | python3 -c 'import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: e["vip"]):
    print(e["vip"], e["node"], e["epoch"])'
	done
}
# mitm ACTION DIR: tells the proxy, waits until it did it
mitm() {
	local what="$1 $2" n
	n=$(grep -c "^done $what" "$T/mitm.log")
	echo "$what" >"$T/mitm.cmd.new" && mv "$T/mitm.cmd.new" "$T/mitm.cmd"
	wait_until 15 eval '[ "$(grep -c "^done $what" "$T/mitm.log")" -gt "$n" ]'
}

# --- sealed (the default) ------------------------------------------------------------
JA=$P-j1 JB=$P-j2
setup sealed 0

# a checked TCP stream from n2's job to n1's job, running through everything below:
# random chunks at about 200 KB/s until $T/stop exists, sha256 at both ends
spawn jx "$JA" timeout 300 python3 -c '
import hashlib, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
print("got", n, h.hexdigest(), flush=True)' >"$T/rx"
wait_until 5 grep -q ready "$T/rx" || bad "stream receiver did not start"
spawn jx "$JB" timeout 300 python3 -c '
import hashlib, os, socket, sys, time
c = socket.create_connection((sys.argv[1], 5001), timeout=60)
h, n = hashlib.sha256(), 0
while not os.path.exists(sys.argv[2]):
    b = os.urandom(20000)
    c.sendall(b)
    h.update(b)
    n += len(b)
    time.sleep(0.1)
c.shutdown(socket.SHUT_WR)
c.recv(1)
print("sent", n, h.hexdigest(), flush=True)' "${VIP4[$JA]}" "$T/stop" >"$T/tx"
TXPID=$!

r_before=$(routes_now)
for step in "flip c2s 1 2" "drop c2s 1 2" "replay s2c 2 1" "insert c2s 1 2"; do
	read -r act dir rx tx <<<"$step"
	# rx: the node that receives the altered frame; tx: the one whose frames were altered
	rej0=$(rejected "$rx" "n$tx")
	link0=$(maxlink "$rx" "n$tx")
	if mitm "$act" "$dir"; then
		ok "$act: the proxy did it ($(grep "^done $act $dir" "$T/mitm.log" | tail -n 1 | cut -d' ' -f3-))"
	else
		bad "$act: the proxy did not get a DATA frame to $act within 15 s"
		continue
	fi
	check "$act: n$rx detected it (rejected_frames for n$tx rose from $rej0)" \
		wait_until 10 eval 'past "$(rejected "$rx" "n$tx")" "$rej0"'
	check "$act: a new data link came up (link above $link0)" \
		wait_until 15 eval 'past "$(maxlink "$rx" "n$tx")" "$link0" && past "$(maxlink "$tx" "n$rx")" "$link0"'
	check "$act: n1 and n2 still up" eval 'peer_up 1 n2 && peer_up 2 n1'
	check "$act: routes unchanged on n1 and n2" test "$(routes_now)" = "$r_before"
	check "$act: ping from n2's job to n1's job works" wait_until 10 q jx "$JB" ping -c 1 -W 1 "${VIP4[$JA]}"
done
for k in 1 2; do
	info "n$k peer-layer counters: rejected_frames $(pcount $k rejected_frames) replayed_frames $(pcount $k replayed_frames) (empty: not exposed in stats yet)"
done
touch "$T/stop"
wait "$TXPID"
wait_until 30 grep -q "^got" "$T/rx"
read -r _ txn txh <"$T/tx"
read -r _ rxn rxh < <(grep "^got" "$T/rx")
if [ -n "${txh:-}" ] && [ "${txh:-}" = "${rxh:-}" ] && [ "$txn" = "$rxn" ]; then
	ok "the TCP stream through all four arrived intact ($rxn bytes, sha256 ${rxh:0:16}...)"
else
	bad "the TCP stream: sent '$(cat "$T/tx")', received '$(cat "$T/rx" | tail -n 1)'"
fi
info "data links n1 saw from n2: up to link $(maxlink 1 n2)"

# --- data_protection = none --------------------------------------------------------------
kill "$MPID" 2>/dev/null
timeout 60 "$CLUSTER" down >/dev/null 2>&1
NODES=0
ip netns del "$X" 2>/dev/null
unset "VIP4[$JA]" "VIP4[$JB]"
export VNET_DATA_PROTECTION=none
JA=$P-j3 JB=$P-j4
setup none 1
rej0=$(rejected 1 n2)
link0=$(maxlink 1 n2)
spawn jx "$JB" ping -c 10 -i 0.2 -W 1 "${VIP4[$JA]}" >"$T/ping.none" 2>&1
PINGPID=$!
if mitm flip c2s; then
	ok "none: the proxy flipped a byte of a DATA frame ($(grep "^done flip" "$T/mitm.log" | tail -n 1 | cut -d' ' -f3-))"
else
	bad "none: the proxy did not flip a DATA frame"
fi
wait "$PINGPID"
info "none: with one DATA frame altered, ping says: $(grep -E 'packets transmitted' "$T/ping.none")"
check "none: tunvnet did not notice (rejected_frames unchanged, same data link)" \
	eval '[ "$(rejected 1 n2)" = "$rej0" ] && [ "$(maxlink 1 n2)" = "$link0" ]'
check "none: ping from n2's job to n1's job works afterwards" wait_until 10 q jx "$JB" ping -c 1 -W 1 "${VIP4[$JA]}"

finish
