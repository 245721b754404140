#!/usr/bin/env bash
# The CRIU recipe (scripts/vnet-migrate-criu): a real process with two established TCP
# connections (tcpmig client, streaming both ways to a job on n2) is dumped by CRIU on n1
# while tunvnet holds its traffic, restored into a new namespace on n2 with the same VIP
# and activated; its connections go on, every byte checked at both ends. Runs where
# `criu check` passes; elsewhere it says why it is skipped and counts as skipped.
# timeout: 120
# shares: migrate (a CRIU move under a stream)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/miglib.sh"

skip() {
	echo "skipped: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
if ! command -v criu >/dev/null; then
	why="not in the Debian archive this machine sees"
	apt-cache policy criu 2>/dev/null | grep -q 'Candidate: [0-9]' &&
		why="Debian has it: apt-get install criu"
	skip "criu is not installed ($why)"
fi
if ! out=$(criu check 2>&1); then
	reason=$(sed -n 's/^Error ([^)]*): //p' <<<"$out" | grep -v '^exited, status' | head -n 1)
	skip "criu check fails on this kernel ($(uname -r): ${reason:-$(tail -n 1 <<<"$out")})"
fi

need python3 nsenter setsid
need_tcpmig
VX=198.19.1.10 VY=198.19.2.10
PORT=5600
RECIPE=$ROOT/scripts/vnet-migrate-criu

cluster_up 2
vjob "$P-jy" 2 $VY || abort "job Y"
spawn ip netns exec "$P-jy" "$TCPMIG" serve --port $PORT --conns 2 --rate 1M \
	--status "$MIG_DIR/srv.json" >"$MIG_DIR/srv.out" 2>&1
srv=$!
MIG_SRV_STATUS=("$MIG_DIR/srv.json")
wait_until 30 routes_ok $VY 2 || abort "Y is not routed"
vjob "$P-jx" 1 $VX || abort "job X"
# its own session, no terminal, output to a file: what CRIU can restore anywhere
setsid nsenter --net="/run/netns/$P-jx" "$TCPMIG" client --connect $VY:$PORT --conns 2 \
	--rate 1M --state "$MIG_DIR/state" --status "$MIG_DIR/cli.0.json" \
	</dev/null >"$MIG_DIR/cli.0.out" 2>&1 &
pid=$!
BGPIDS+=("$pid")
MIG_SEQ=0
check "X streams to Y on 2 connections" mig_wait_flowing 30 0

t0=$(now_us)
if "$RECIPE" migrate --from "$(sock 1)" --to "$(sock 2)" --vip $VX --pid "$pid" \
	--dir "$T/ckpt" --netns "$P-jx2" >"$T/recipe.out" 2>&1; then
	ok "vnet-migrate-criu migrate: $(tr '\n' ' ' <"$T/recipe.out")"
else
	sed 's/^/    /' "$T/recipe.out"
	abort "vnet-migrate-criu migrate failed"
fi
JOBS+=("$P-jx2")
wait "$pid" 2>/dev/null
ip netns del "$P-jx"
newpid=$(cat "$T/ckpt/restored.pid" 2>/dev/null)
[ -n "$newpid" ] && BGPIDS+=("$newpid")
check "every node routes $VX to n2" wait_until 30 routes_ok $VX 2
check "the restored process streams on, both ways" mig_wait_flowing 30 "$t0"
info "receive gap at Y: $(python3 - "$MIG_DIR/srv.json" "$t0" <<'EOF'
import json, sys
d, t0 = json.load(open(sys.argv[1])), int(sys.argv[2])
g = [b - a for c in d["conns"] for a, b in c["gaps"] if b >= t0]
print("%.1f ms" % (max(g) / 1000) if g else "under 20 ms")
EOF
)"

kill -TERM "$newpid" 2>/dev/null
wait_until 15 eval '! kill -0 "$newpid" 2>/dev/null' || bad "the restored client did not end"
wait "$srv"
src=$?
if [ $src = 0 ] && grep -q '^client: 2 connection(s), 0 failed' "$MIG_DIR/cli.0.out" &&
   res=$(python3 "$MIGPY" totals "$MIG_DIR/cli.0.out" "$MIG_DIR/srv.out"); then
	ok "clean end, every byte checked in order at both ends: $res"
else
	sed 's/^/    /' "$MIG_DIR/cli.0.out" "$MIG_DIR/srv.out" | tail -n 12
	bad "end: server exit $src: ${res:-}"
fi
finish
