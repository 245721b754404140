#!/usr/bin/env bash
# A job on standby sends nothing. Job X (198.19.1.10 on n1) streams both ways to job Y on
# n2 (tcpmig, every byte checked); X moves to n2 with TCP_REPAIR and its restored
# connection waits STANDBY_S seconds on standby before the activate, as the early ones of
# 50 restores at once did in scripts/load. Until the activate the answers to X go to n1,
# which holds them: had n2 delivered what the restored connection sent meanwhile, every
# segment would be acknowledged only after the whole standby, and the connection's TCP
# (BBR, where the kernel has it: the load test's machine runs it by default) would pace
# its data a minute behind: client -> server stopped 2-5 s after the move, then a reset.
# So n2 drops what a standby job sends (counted as `standby`), and after the activate the
# client's data must reach the server steadily, not only for a moment.
# timeout: 120
# shares: migrate (a TCP_REPAIR move under a stream; paced data, timing-sensitive)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/miglib.sh"
need python3 sysctl
need_tcpmig
VX=198.19.1.10 VY=198.19.2.10
PORT=5300
RATE=256k
STANDBY_S=${STANDBY_S:-8}
KEEP_S=10   # the client's data must reach the server steadily this long after the activate
GAP_S=5     # steadily: no receive gap at the server longer than this once it resumed

cluster_up 2
vjob "$P-jy" 2 $VY || abort "job Y"
spawn ip netns exec "$P-jy" "$TCPMIG" serve --port $PORT --conns 1 --rate "$RATE" \
	--gap-ms 1000 --status "$MIG_DIR/srv.json" >"$MIG_DIR/srv.out" 2>&1
srv=$!
MIG_SRV_STATUS=("$MIG_DIR/srv.json")
check "every node routes Y to n2" wait_until 30 routes_ok $VY 2
mig_client "$P-jx" 1 $VX --connect $VY:$PORT --conns 1 --rate "$RATE" || abort "job X"
check "X streams to Y, both ways" mig_wait_flowing 30 0

# The restored connection uses BBR where the kernel has it (new sockets take their
# namespace's default); the drop counter below does not depend on it.
CC=default
MIG_PREPARE_FIRST=1
mig_on_prepared() {
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_congestion_control=bbr 2>/dev/null && CC=bbr
}
# the restored job stays on standby for a while (the scenario, not a wait for something)
mig_on_restored() { sleep "$STANDBY_S"; }
mig_move 2 || abort "move n1 -> n2 failed"
t_act=$(now_us)
ok "move n1 -> n2 after $STANDBY_S s on standby (congestion control: $CC): traffic" \
	"resumed ($MOVE_PHASES)"

# what the restored connection sent while on standby was dropped and counted
drops=$(ctl 2 --json stats | jget 'd["drops"].get("standby", 0)')
if [[ $drops =~ ^[0-9]+$ ]] && [ "$drops" -gt 0 ]; then
	ok "n2 dropped $drops packets the job sent on standby (drop reason standby)"
else
	bad "n2 counted no standby drop ($drops): the restored job's packets went out"
fi

# n1's hand-over names n2 as the VIP's node: n2 takes it as such, not as a lie of n1's
nown=$(ctl 2 --json stats | jget 'd["counters"].get("routes_not_own", -1)')
check "n2 refused no route entry of n1's (routes_not_own $nown)" [ "$nown" = 0 ]

# steady: once the stream resumed after the activate, the server's receive gaps (tcpmig
# lists those over 1 s when they end) stay under GAP_S, and it still receives KEEP_S s on
srv_rx_after() {
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["conns"]
sys.exit(0 if c and c[0]["state"] == "open" and c[0]["t_last_rx"] > int(sys.argv[2]) else 1)' \
		"$MIG_DIR/srv.json" "$1"
}
sleep "$KEEP_S"   # the stream runs this long (not a wait for something)
if wait_until 30 srv_rx_after "$(now_us)"; then
	gaps=$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["conns"][0]
print(" ".join("%.1f" % ((b - a) / 1e6) for a, b in c["gaps"]
               if a > int(sys.argv[2]) and b - a > float(sys.argv[3]) * 1e6))' \
		"$MIG_DIR/srv.json" "$t_act" "$GAP_S")
	if [ -z "$gaps" ]; then
		ok "X's data reaches Y steadily after the activate (no gap over $GAP_S s)"
	else
		bad "X's data stopped reaching Y after the activate for $gaps s"
	fi
else
	bad "X's data stopped reaching Y after the activate (server: $(tail -n 1 \
		"$MIG_DIR/srv.out"); X: $(ip netns exec "$MIG_NS" ss -tin 2>&1 | tail -n 1))"
fi
info "$(( ($(now_us) - t_act) / 1000 )) ms since the activate"

mig_end "$srv"
finish
