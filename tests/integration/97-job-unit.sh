#!/usr/bin/env bash
# A job moves as a unit, and the daemon never disagrees with the kernel (issue 13), on two
# daemons of one machine:
#  A. the README's walkthrough: a plain attach of a VIP hosted elsewhere is refused,
#     naming its node and epoch and the way to move it; suspend (by namespace) lists both
#     VIPs; a standby attach into the job's own namespace (whose TUN n1 serves) is refused
#     with a message naming n1 and `migrate`; a standby in a fresh namespace, then
#     activate, moves the IPv4 and the IPv6 VIP together and both stay reachable; migrate
#     lists both VIPs with their epochs.
#  B. half a job moved (only the IPv4 VIP on standby): the old node reports the split.
#  C. by hand on a job's TUN: `ip addr del` is reported and repaired, `ip route del
#     default` too; `ip link del` is reported (state broken, event, counter) and detach
#     says the TUN was gone already.
#  D. counters that add up: after mixed traffic (ping v4/v6, a TCP stream of
#     super-packets), per-peer series sum to the node total, in JSON and Prometheus alike.
#  E. refusals that teach: "did you mean" for a vnetctl command and a config key;
#     `tunvnetd -n -v` prints the effective configuration.
# timeout: 120
. "$(dirname "$0")/lib.sh"
need python3 curl ping
export VNET_METRICS_PORT=9466
cluster_up 2

JA=$P-ja JB=$P-jb JR=$P-jr JC=$P-jc JD=$P-jd
job "$JA" 1 0 || abort "job A"
job "$JB" 2 0 || abort "job B"
A4=${VIP4[$JA]} A6=${VIP6[$JA]}
wait_jobs_routed 20 || abort "jobs are not routed"

# reach NS VIP: NS pings VIP (answered by the kernel of whichever namespace holds it)
reach() { jx "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
# jobs_of K EXPR: EXPR over node K's `jobs --json` (as d)
jobs_of() { ctl "$1" --json jobs 2>/dev/null | jget "$2" 2>/dev/null; }
# job_field K NS FIELD: FIELD of node K's job in namespace NS
job_field() { jobs_of "$1" "([j['$3'] for j in d if j['netns'] == '$2'] + [''])[0]"; }
# has_event K TYPE: node K's event ring holds an event of TYPE
has_event() {
	ctl "$1" --json events 2>/dev/null |
		jget "any(e.get('type') == '$2' for e in d)" 2>/dev/null | grep -q true
}

check "A: $JB reaches $A4 and $A6 on n1" wait_until 10 eval 'reach $JB $A4 && reach $JB $A6'

# --- A. the walkthrough -----------------------------------------------------------------
ip netns add "$JR" && JOBS+=("$JR") || abort "ip netns add $JR"
out=$(ctl 2 attach --netns "$JR" --vip "$A4" 2>&1)
if [[ $out == *"hosted by n1 (epoch "*"use \`attach --standby\` then \`activate\`, or \`migrate\`"* ]]; then
	ok "A: a plain attach of a VIP hosted on n1 teaches: ${out#vnetctl: }"
else
	bad "A: plain attach of $A4 on n2: $out"
fi

out=$(ctl 1 --json suspend --netns "$JA" 2>&1)
n=$(jget 'len(d["vips"])' <<<"$out" 2>/dev/null)
check "A: suspend --netns $JA suspends the whole job (both VIPs listed: $n)" [ "$n" = 2 ]

out=$(ctl 2 attach --standby --netns "$JA" --vip "$A4" 2>&1)
if [ $? != 0 ] && [[ $out == *"served by n1"* && $out == *migrate* && $out == *"fresh namespace"* ]]; then
	ok "A: a standby attach into the namespace n1 serves is refused: ${out#vnetctl: }"
else
	bad "A: standby attach into $JA on n2 was not refused as it should: $out"
fi
check "A: the refused attach left n1's TUN its addresses" \
	eval 'jx $JA ip -o addr show dev tv0 | grep -q "$A4/32"'

e4=$(ctl 1 --json routes | jget "[e['epoch'] for e in d if e['vip'] == '$A4'][0]")
if ctl 2 attach --standby --netns "$JR" --vip "$A4" >/dev/null &&
   ctl 2 attach --standby --netns "$JR" --vip "$A6" >/dev/null; then
	ok "A: standby of both VIPs in the fresh namespace $JR"
else
	bad "A: standby in $JR"
fi
out=$(ctl 2 --json activate --netns "$JR" 2>&1)
if jget '(sorted(v["vip"] for v in d["vips"]) == sorted(["'"$A4"'", "'"$A6"'"]) and
	  all(v["epoch"] > '"$e4"' for v in d["vips"]))' <<<"$out" 2>/dev/null | grep -q true; then
	ok "A: activate moved both VIPs, each with a new epoch: $(jget 'd["vips"]' <<<"$out")"
else
	bad "A: activate --netns $JR: $out"
fi
check "A: every node routes $A4 and $A6 to n2" \
	wait_until 10 eval 'routes_ok $A4 2 && routes_ok $A6 2'
check "A: $JB reaches both VIPs, now in $JR on n2" \
	wait_until 10 eval 'reach $JB $A4 && reach $JB $A6'
check "A: n1 let the whole job go" wait_until 10 eval '[ -z "$(job_field 1 $JA state)" ]'

out=$(ctl 2 migrate --netns "$JR" --to n1 2>&1)
if [[ $out == *"$A4 (epoch "*"$A6 (epoch "* || $out == *"$A6 (epoch "*"$A4 (epoch "* ]]; then
	ok "A: migrate lists both VIPs with their epochs: $out"
else
	bad "A: migrate --netns $JR --to n1: $out"
fi
check "A: after migrate $JB reaches both VIPs on n1" \
	wait_until 10 eval 'reach $JB $A4 && reach $JB $A6 && routes_ok $A6 1'

# --- B. half a job moved -------------------------------------------------------------------
job "$JC" 1 1 || abort "job C"
C4=${VIP4[$JC]} C6=${VIP6[$JC]}
wait_until 10 routes_ok "$C4" 1 || bad "B: job C is not routed"
ip netns add "$JD" && JOBS+=("$JD") || abort "ip netns add $JD"
if ctl 1 suspend --vip "$C4" >/dev/null && ctl 2 attach --standby --netns "$JD" --vip "$C4" \
	>/dev/null && ctl 2 activate --vip "$C4" >/dev/null; then
	check "B: n1 reports the job split (part moved, $C6 still suspended)" \
		wait_until 10 eval '[[ $(job_field 1 $JC problem) == split:* ]]'
	info "B: n1 jobs: $(job_field 1 "$JC" problem)"
else
	bad "B: suspend / standby / activate of $C4"
fi
ctl 1 resume --netns "$JC" >/dev/null || bad "B: resume the rest of $JC on n1"

# --- C. the kernel changed behind the daemon's back ---------------------------------------
r0=$(stat 1 counters.jobs_repaired)
ip -n "$JR" addr del "$A4/32" dev tv0 || bad "C: ip addr del"
check "C: n1 puts back $A4 removed by hand" \
	wait_until 5 eval 'jx $JR ip -o addr show dev tv0 | grep -q "$A4/32"'
check "C: the repair is counted and reported" \
	eval '[ "$(stat 1 counters.jobs_repaired)" -gt "${r0:-0}" ] && has_event 1 job_repair'
ip -n "$JR" -6 route del default dev tv0 || bad "C: ip -6 route del default"
check "C: n1 puts back the IPv6 default route removed by hand" \
	wait_until 5 eval 'jx $JR ip -6 route show default | grep -q tv0'
check "C: $JB still reaches both VIPs" wait_until 10 eval 'reach $JB $A4 && reach $JB $A6'

b0=$(stat 1 counters.jobs_broken)
ip -n "$JR" link del tv0 || bad "C: ip link del"
check "C: n1 reports the TUN deleted: job broken" \
	wait_until 5 eval '[ "$(job_field 1 $JR state)" = broken ]'
info "C: n1 jobs: $(job_field 1 "$JR" problem)"
check "C: ... with a counter and an event" \
	eval '[ "$(stat 1 counters.jobs_broken)" -gt "${b0:-0}" ] && has_event 1 job_broken'
ctl 1 detach --vip "$A6" >/dev/null
out=$(ctl 1 detach --vip "$A4" 2>&1)
check "C: detach says the TUN was gone already: $out" eval '[[ $out == *"gone already"* ]]'

# --- D. counters that add up ----------------------------------------------------------------
B4=${VIP4[$JB]} B6=${VIP6[$JB]}
X4=$(vip4 1 5)
job "$P-jx" 1 5 || abort "job X"
wait_until 10 routes_ok "$X4" 1 || bad "D: job X is not routed"
jx "$JB" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5300)); s.listen(1); c, _ = s.accept()
while c.recv(65536): pass' &
srv=$!
BGPIDS+=($srv)
wait_until 10 listening "$JB" 5300 || bad "D: server in $JB"
jx "$P-jx" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5300)); b = b"x" * 65536
for _ in range(128): s.sendall(b)
s.close()' "$B4" || bad "D: TCP stream"
wait "$srv" 2>/dev/null
for v in "$B4" "$B6"; do jx "$P-jx" ping -c 20 -i 0.01 -s 1200 "$v" >/dev/null || bad "D: ping $v"; done
jx "$JB" ping -c 20 -i 0.01 "$X4" >/dev/null || bad "D: ping $X4"

# add_up K: node K's JSON and Prometheus agree, and the per-peer series add up to the node
# totals in both, for packets and bytes each way
add_up() {
	ctl "$1" --json stats >"$T/s$1.json" 2>/dev/null &&
	ip netns exec "$P-n$1" curl -sf "http://198.18.0.$1:$VNET_METRICS_PORT/metrics" \
		>"$T/m$1.prom" &&
	ctl "$1" --json stats >"$T/s$1b.json" 2>/dev/null &&
	cmp -s <(jget 'd["counters"]' <"$T/s$1.json") <(jget 'd["counters"]' <"$T/s$1b.json") &&
	python3 - "$T/s$1.json" "$T/m$1.prom" <<'EOF'
import json, re, sys
s = json.load(open(sys.argv[1]))
prom = {}
for line in open(sys.argv[2]):
    m = re.match(r'^(tunvnet_\w+)\{([^}]*)\} (\S+)$', line)
    if m:
        prom.setdefault(m.group(1), []).append((m.group(2), float(m.group(3))))
bad = []
for k in ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes"):
    node = s["counters"]["peer_" + k]
    peers = sum(p[k] for p in s["peers"].values())
    psum = sum(v for _, v in prom.get("tunvnet_peer_%s_total" % k, []))
    ntot = [v for _, v in prom.get("tunvnet_node_peer_%s_total" % k, [])]
    labelled = all("peer=" in l for l, _ in prom.get("tunvnet_peer_%s_total" % k, []))
    if not (node == peers == psum and ntot == [node] and labelled and node > 0):
        bad.append("%s: json node %d, json peers %d, prom peers %d, prom node %s%s"
                   % (k, node, peers, psum, ntot, "" if labelled else ", unlabelled series"))
print("; ".join(bad) if bad else " ".join("%s %d" % (k, s["counters"]["peer_" + k])
      for k in ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes")))
sys.exit(1 if bad else 0)
EOF
}
for k in 1 2; do
	if res=$(add_up $k); then
		ok "D: n$k per-peer series add up to the node total, JSON = Prometheus ($res)"
	else
		bad "D: n$k counters: $res"
	fi
done
# one definition of a byte: what n2 sent n1 is what n1 received from n2
tx=$(ctl 2 --json stats | jget 'd["peers"]["n1"]["tx_bytes"]')
rx=$(ctl 1 --json stats | jget 'd["peers"]["n2"]["rx_bytes"]')
check "D: bytes n2 -> n1 counted alike on both sides ($tx, $rx)" [ "$tx" = "$rx" ]

# --- E. refusals that teach ---------------------------------------------------------------
out=$("$VNETCTL" atach 2>&1)
check "E: vnetctl atach: $(head -n 1 <<<"$out")" eval '[[ $out == *"did you mean '"'attach'"'"* ]]'
out=$(ip netns exec "$P-n1" "$TUNVNETD" -n -v -c "$CDIR/n1.conf" 2>&1)
check "E: tunvnetd -n -v prints the effective configuration" \
	eval '[[ $out == *"configuration OK"* && $out == *"name = n1"* && $out == *"mtu = "* &&
		 $out == *"forward_grace = "* ]]'
sed 's/^\[node\]$/[node]\nmtuu = 1500/' "$CDIR/n1.conf" >"$T/typo.conf"
out=$(ip netns exec "$P-n1" "$TUNVNETD" -n -c "$T/typo.conf" 2>&1)
check "E: a misspelt config key: $(grep mtuu <<<"$out")" \
	eval '[[ $out == *"unknown key \"mtuu\" in [node]; did you mean \"mtu\"?"* ]]'

finish
