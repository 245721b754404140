# shellcheck shell=bash
# Helpers of the substrate tests (66-udp, 67-substrate-auto), sourced after lib.sh: a
# checked TCP stream between two jobs that runs while the test changes the substrates
# under it, and what `vnetctl peers` says about a peer's substrates.

# in_use K NODE: the substrate node K sends NODE's data on now.
in_use() {
	ctl "$1" --json peers 2>/dev/null | jget "[e['substrate'] for e in d if e['node'] == '$2'][0]" 2>/dev/null
}

# is_on K NODE SUBSTRATE: node K sends NODE's data on SUBSTRATE.
is_on() { [ "$(in_use "$1" "$2")" = "$3" ]; }

# sub_field K NODE SUBSTRATE FIELD: a member of that substrate's entry in `peers --json`.
sub_field() {
	ctl "$1" --json peers 2>/dev/null |
		jget "[s['$4'] for e in d if e['node'] == '$2' for s in e['substrates'] if s['name'] == '$3'][0]" 2>/dev/null
}

# link_tx K NODE SUBSTRATE: frames node K sent on its data link of SUBSTRATE to NODE.
link_tx() {
	ctl "$1" --json peers 2>/dev/null |
		jget "sum(l['tx_frames'] for e in d if e['node'] == '$2' for l in e['links'] if l['role'] == 'data' and l['substrate'] == '$3')" 2>/dev/null
}

# stream_start SRC_NS DST_NS PORT SECONDS [MBPS]: a TCP stream from job SRC_NS to job
# DST_NS for SECONDS (at most MBPS megabytes per second, default as fast as it goes),
# every byte hashed on both ends; stream_check says whether both ends agree.
stream_start() {
	local src=$1 dst=$2 port=$3 secs=$4 rate=${5:-0}
	spawn jx "$dst" timeout $((secs + 60)) python3 "$ROOT/tests/tools/checkstream.py" recv \
		"${VIP4[$dst]}" "$port" >"$T/recv.$port" 2>"$T/recv.$port.err"
	STREAM_RECV=$!
	wait_until 30 listening "$dst" "$port" || bad "the receiver does not listen on port $port"
	spawn jx "$src" timeout $((secs + 60)) python3 "$ROOT/tests/tools/checkstream.py" send \
		"${VIP4[$dst]}" "$port" --seconds "$secs" --rate "$rate" --timeout 60 \
		>"$T/send.$port" 2>"$T/send.$port.err"
	STREAM_SEND=$!
}

# stream_check PORT WHAT: both ends of the stream on PORT finished with the same bytes.
stream_check() {
	local port=$1 what=$2 sb sh st rb rh
	wait "$STREAM_SEND"
	wait "$STREAM_RECV"
	read -r sb sh st <"$T/send.$port" 2>/dev/null
	read -r rb rh <"$T/recv.$port" 2>/dev/null
	if [ -n "${sh:-}" ] && [ "${sh:-}" = "${rh:-}" ] && [ "${sb:-}" = "${rb:-}" ]; then
		ok "$what: $((sb / 1048576)) MiB in ${st}s, the same sha256 on both ends"
	else
		sed 's/^/    /' "$T/send.$port.err" "$T/recv.$port.err"
		bad "$what: sent ${sb:-?} B ${sh:-?}, received ${rb:-?} B ${rh:-?}"
	fi
}

# udp_block K: node K's namespace drops every UDP datagram of the substrate's port, in
# and out; udp_unblock K removes the rule.
udp_block() {
	ip netns exec "$P-n$1" nft -f - <<EOF
table inet tvudp {
	chain in { type filter hook input priority 0; udp dport 7000 drop; udp sport 7000 drop; }
	chain out { type filter hook output priority 0; udp dport 7000 drop; udp sport 7000 drop; }
}
EOF
}
udp_unblock() { ip netns exec "$P-n$1" nft delete table inet tvudp 2>/dev/null; }

# udp_loss K PCT: node K drops PCT% of the substrate's UDP datagrams at random, both ways.
udp_loss() {
	ip netns exec "$P-n$1" nft -f - <<EOF
table inet tvudp {
	chain in { type filter hook input priority 0; udp sport 7000 numgen random mod 100 < $2 drop; udp dport 7000 numgen random mod 100 < $2 drop; }
	chain out { type filter hook output priority 0; udp sport 7000 numgen random mod 100 < $2 drop; udp dport 7000 numgen random mod 100 < $2 drop; }
}
EOF
}

# switch_ms K SINCE_US TO: milliseconds from SINCE_US (now_us) to node K's first
# substrate_switch event to TO after it, or empty.
switch_ms() {
	ctl "$1" --json events 2>/dev/null | python3 -c '
import json, sys, datetime
since, to = int(sys.argv[1]), sys.argv[2]
for e in json.load(sys.stdin):
    if e.get("type") != "substrate_switch" or "-> " + to + ":" not in e.get("detail", ""):
        continue
    t = int(float(e.get("ts", 0)) * 1e6)
    if t >= since:
        print((int(t) - since) // 1000)
        break' "$2" "$3" 2>/dev/null
}
