#!/usr/bin/env bash
# Load on a 4-node cluster: LOAD_JOBS jobs attached on n1 (LOAD_PAIRS of them stream to a
# job each on n2..n4, the rest idle), LOAD_ROUTES more routes on every node (a fake peer
# announces them), every byte of the LOAD_PAIRS TCP streams checked at both ends
# (tcpmig), and LOAD_MOVES of the streaming jobs migrated at once with TCP_REPAIR, to
# n2, n3 and n4 in turn: all suspended, checkpointed, restored and activated together.
# No connection may be lost. Each daemon's RSS, peak RSS (VmHWM) and open fds are
# printed before, during and after, and checked against bounds.
# make check runs a short version; scripts/load runs the full one (1,000 jobs, 10,000
# routes, 100 pairs, 50 moves at once).
# timeout: 240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/miglib.sh"
need python3 nsenter
need_tcpmig
FAKEPEER=$ROOT/build/tools/fakepeer
[ -x "$FAKEPEER" ] || abort "build/tools/fakepeer not built (make tests)"
LOADJOBS=$ROOT/tests/tools/loadjobs.py

JOBS_N=${LOAD_JOBS:-200} ROUTES_N=${LOAD_ROUTES:-10000} PAIRS=${LOAD_PAIRS:-20}
MOVES=${LOAD_MOVES:-10} RATE=${LOAD_RATE:-64k}
# bounds: a daemon's peak RSS, and its fds beyond 2 per job it holds
RSS_MAX_MIB=${LOAD_RSS_MAX_MIB:-64} FD_SLACK=${LOAD_FD_SLACK:-64}
for v in JOBS_N ROUTES_N PAIRS MOVES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || abort "$v='${!v}' is not a number"
done
[ "$PAIRS" -le 200 ] && [ "$MOVES" -le "$PAIRS" ] && [ "$JOBS_N" -ge "$PAIRS" ] ||
	abort "need PAIRS <= 200, MOVES <= PAIRS <= JOBS"
IDLE=$((JOBS_N - PAIRS))
IDLE_NS=$P-jl IDLE_VIP0=fd00:19:1::1000 FAKE_VIP0=198.19.100.1
PORT=5600

# The idle jobs' namespaces go in one ip -batch, not one by one (lib.sh's cleanup then
# has only the others).
# On a failure the tools' files and the daemons' logs stay in /tmp/tv-99-load.keep.
keep() {
	[ "$failed" = 0 ] && return
	local k d=/tmp/tv-99-load.keep
	rm -rf $d && cp -a "$T" $d && cp "$CDIR"/n*.log $d/ 2>/dev/null
	for k in 1 2 3 4; do ctl "$k" --json stats >$d/stats.$k.json 2>&1; done
	for k in $(seq 0 $((PAIRS - 1))); do
		ip netns exec "$P-js$k" nstat -az >$d/nstat.s$k 2>&1
	done
}
trap 'keep; timeout 120 python3 "$LOADJOBS" del "$IDLE_NS" "$IDLE" 2>/dev/null; cleanup' EXIT

pids() { local k; for k in 1 2 3 4; do echo -n "$(daemon_pid "$k") "; done; }
# mem WHEN: prints each daemon's RSS, peak RSS and fds; keeps them in MEM_<WHEN>
mem() {
	local out k=0 line
	out=$(python3 "$LOADJOBS" mem $(pids)) || { bad "$1: cannot read the daemons' /proc"; return; }
	while read -r line; do
		k=$((k + 1))
		read -r _ rss hwm fds <<<"$line"
		info "$1: n$k rss $((rss / 1024)) MiB, peak $((hwm / 1024)) MiB, $fds fds"
		eval "MEM_$1_$k=\"$rss $hwm $fds\""
	done <<<"$out"
}
# jobs_of K: how many jobs node K holds
jobs_of() { ctl "$1" --json jobs 2>/dev/null | jget 'len(d)'; }
routes_of() { ctl "$1" --json status 2>/dev/null | jget 'd["routes"]'; }

T0=$EPOCHREALTIME
# mark WHAT: how long since the start, for the log
mark() { info "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%5.1f s", b - a }'): $*"; }
cluster_up 4
mark "cluster up"
mem before

# --- routes: a fake node with a certificate of the cluster's CA announces ROUTES_N VIPs
# to every node
declare -A FAKE
if [ "$ROUTES_N" -gt 0 ]; then
	"$ROOT/scripts/vnet-ca" issue "$CDIR/ca" loadfake >/dev/null 2>&1 ||
		abort "vnet-ca issue loadfake"
	for k in 1 2 3 4; do
		spawn ip netns exec "$P-n$k" "$FAKEPEER" --connect "198.18.0.$k:7000" \
			--ca "$CDIR/ca/ca.crt" --cert "$CDIR/ca/loadfake.crt" \
			--key "$CDIR/ca/loadfake.key" -t 3600 \
			routes "$ROUTES_N" "$FAKE_VIP0" sync print ready stay >"$T/fake.$k" 2>&1
		FAKE[$k]=$!
	done
	# fake_ready: all four got their routes in (or one gave up: then stop waiting)
	fake_ready() {
		local k n=0
		for k in 1 2 3 4; do
			kill -0 "${FAKE[$k]}" 2>/dev/null || return 0
			grep -q '^ready' "$T/fake.$k" && n=$((n + 1))
		done
		[ $n = 4 ]
	}
	if wait_until 60 fake_ready && [ "$(cat "$T"/fake.* | grep -c '^ready')" = 4 ]; then
		r=""
		for k in 1 2 3 4; do r+=" n$k $(routes_of "$k")"; done
		all_have() { local k; for k in 1 2 3 4; do [ "$(routes_of "$k")" -ge "$ROUTES_N" ] || return 1; done; }
		check "$ROUTES_N routes announced to every node (routes:$r)" all_have
	else
		abort "the fake peer did not get its routes in: $(cat "$T"/fake.* | tail -n 4)"
	fi
fi

# --- the idle jobs on n1
if [ "$IDLE" -gt 0 ]; then
	t=$EPOCHREALTIME
	python3 "$LOADJOBS" make "$IDLE_NS" "$IDLE" || abort "cannot make $IDLE namespaces"
	if out=$(python3 "$LOADJOBS" attach "$(sock 1)" "$IDLE_NS" "$IDLE" "$IDLE_VIP0" 2>&1); then
		ok "$IDLE idle jobs attached to n1: $out"
	else
		abort "attaching idle jobs: $out"
	fi
	info "idle jobs: namespaces made and attached in $(awk -v a="$t" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.1f", b - a }') s"
fi

mark "idle jobs attached"
# --- the pairs: client job i on n1 (198.19.1.(10+i)), server job i on n(2 + i % 3)
# (198.19.K.(10+i/3)), a tcpmig stream both ways, every byte checked
cvip() { echo "198.19.1.$((10 + $1))"; }
snode() { echo $((2 + $1 % 3)); }
svip() { echo "198.19.$(snode "$1").$((10 + $1 / 3))"; }
declare -A CPID SPID CNODE CNS CSEQ
for i in $(seq 0 $((PAIRS - 1))); do
	vjob "$P-js$i" "$(snode "$i")" "$(svip "$i")" || abort "server job $i"
	spawn ip netns exec "$P-js$i" "$TCPMIG" serve --bind "$(svip "$i")" --port $PORT \
		--conns 1 --rate "$RATE" --status "$T/srv.$i.json" >"$T/srv.$i.out" 2>&1
	SPID[$i]=$!
done
all_listen() { local i; for i in $(seq 0 $((PAIRS - 1))); do listening "$P-js$i" $PORT || return 1; done; }
wait_until 60 all_listen || abort "not every server listens"
for i in $(seq 0 $((PAIRS - 1))); do
	vjob "$P-jc$i.0" 1 "$(cvip "$i")" || abort "client job $i"
done
# routed: every node routes every server job to its node (one routes list per node)
routed() {
	local k want=""
	for i in $(seq 0 $((PAIRS - 1))); do want+="$(svip "$i")=n$(snode "$i") "; done
	for k in 1 2 3 4; do
		ctl "$k" --json routes 2>/dev/null | python3 -c 'import json, sys
have = {str(e.get("vip", "")).split("/")[0] + "=" + str(e.get("node")) for e in json.load(sys.stdin)}
sys.exit(0 if set(sys.argv[1].split()) <= have else 1)' "$want" || return 1
	done
}
check "every node routes the $PAIRS server jobs" wait_until 60 routed
for i in $(seq 0 $((PAIRS - 1))); do
	CNODE[$i]=1 CNS[$i]=$P-jc$i.0 CSEQ[$i]=0
	spawn ip netns exec "${CNS[$i]}" "$TCPMIG" client --connect "$(svip "$i"):$PORT" \
		--conns 1 --id-base "$i" --rate "$RATE" --state "$T/state.$i" \
		--status "$T/cli.$i.0.json" >"$T/cli.$i.0.out" 2>&1
	CPID[$i]=$!
done
# flowing T_US I...: pair I's client and server both received data after T_US (one
# process for all pairs: mig.py's test, per pair, on their status files)
cat >"$T/flowing.py" <<'EOF'
import json, sys
t, args = int(sys.argv[1]), sys.argv[2:]
def conns(p):
    try:
        return [c for c in json.load(open(p)).get("conns", []) if c["state"] == "open"]
    except (OSError, ValueError):
        return []
for cli, srv in zip(args[0::2], args[1::2]):
    cc, sc = conns(cli), conns(srv)
    if not cc or not sc or any(c["t_last_rx"] <= t for c in cc + sc):
        sys.exit(1)
EOF
flowing() {
	local t=$1 i a=()
	shift
	for i in "$@"; do a+=("$T/cli.$i.${CSEQ[$i]}.json" "$T/srv.$i.json"); done
	python3 "$T/flowing.py" "$t" "${a[@]}"
}
ALL=$(seq 0 $((PAIRS - 1)))
# shellcheck disable=SC2086
check "$PAIRS pairs stream both ways (n1 -> n2..n4)" wait_until 60 flowing 0 $ALL
n1jobs=$(jobs_of 1)
check "n1 holds $JOBS_N jobs ($n1jobs)" [ "$n1jobs" = "$JOBS_N" ]
mark "pairs flowing"
mem during

# --- MOVES of the clients migrate at once: pair i's client to n(2 + i % 3)
MOVING=$(seq 0 $((MOVES - 1)))
if [ "$MOVES" -gt 0 ]; then
	declare -A NEWNS NEWNODE
	for i in $MOVING; do
		NEWNODE[$i]=$(snode "$i") NEWNS[$i]=$P-jc$i.1
		vjob "${NEWNS[$i]}" "${NEWNODE[$i]}" "$(cvip "$i")" --standby ||
			abort "standby attach for pair $i"
	done
	# par WHAT FUNC: runs FUNC I for every moving pair I at once (one vnetctl each); every
	# one must succeed
	par() {
		local what=$1 i fails=0
		shift
		declare -A pp
		for i in $MOVING; do
			"$@" "$i" >"$T/par.$what.$i" 2>&1 &
			pp[$i]=$!
		done
		for i in $MOVING; do
			wait "${pp[$i]}" || { fails=$((fails + 1)); bad "$what pair $i: $(cat "$T/par.$what.$i")"; }
		done
		[ "$fails" = 0 ]
	}
	do_suspend() { ctl "${CNODE[$1]}" suspend --vip "$(cvip "$1")"; }
	do_activate() { ctl "${NEWNODE[$1]}" --json activate --vip "$(cvip "$1")"; }
	ts=$EPOCHREALTIME
	par suspend do_suspend || abort "suspend failed"
	for i in $MOVING; do kill -USR1 "${CPID[$i]}"; done
	fails=0
	for i in $MOVING; do
		wait "${CPID[$i]}"
		rc=$?
		if [ $rc != 0 ] || [ ! -s "$T/state.$i" ]; then
			fails=$((fails + 1))
			bad "pair $i: checkpoint failed (exit $rc): $(tail -n 2 "$T/cli.$i.0.out")"
		fi
	done
	[ "$fails" = 0 ] || abort "$fails checkpoints failed"
	tc=$EPOCHREALTIME
	for i in $MOVING; do echo "netns del ${CNS[$i]}"; done | ip -batch - ||
		bad "deleting the moved jobs' old namespaces"
	tl=$(now_us)
	for i in $MOVING; do
		mv "$T/state.$i" "$T/state.$i.prev"
		CSEQ[$i]=1
		spawn nsenter --net="/run/netns/${NEWNS[$i]}" "$TCPMIG" restore \
			--state "$T/state.$i.prev" --status "$T/cli.$i.1.json" >"$T/cli.$i.1.out" 2>&1
		CPID[$i]=$!
	done
	restored() { local i; for i in $MOVING; do grep -q '^restore ' "$T/cli.$i.1.out" || return 1; done; }
	if ! wait_until 60 restored; then
		for i in $MOVING; do
			grep -q '^restore ' "$T/cli.$i.1.out" || bad "pair $i: restore: $(tail -n 2 "$T/cli.$i.1.out")"
		done
		abort "restores failed"
	fi
	tr=$EPOCHREALTIME
	# LOAD_STANDBY=S: the restored jobs wait S s on standby before the activates (as the
	# first of 50 slow restores did; 97-migrate-standby is the short test of it)
	[ -n "${LOAD_STANDBY:-}" ] && sleep "$LOAD_STANDBY"
	par activate do_activate || abort "activate failed"
	ta=$EPOCHREALTIME
	for i in $MOVING; do CNODE[$i]=${NEWNODE[$i]} CNS[$i]=${NEWNS[$i]}; done
	# shellcheck disable=SC2086
	if wait_until 60 flowing "$tl" $MOVING; then
		ok "$MOVES moves at once, n1 -> n2/n3/n4: every moved stream flows again" \
			"($(awk -v a="$ts" -v b="$tc" -v c="$tr" -v d="$ta" -v e="$EPOCHREALTIME" \
			'BEGIN { printf "suspend+checkpoint %.2f s, restore %.2f s, activate %.2f s, flowing %.2f s later", b - a, c - b, d - c, e - d }'))"
	else
		for i in $MOVING; do
			flowing "$tl" "$i" || bad "pair $i: no traffic after the move ($(tail -n 1 "$T/cli.$i.1.out"))"
		done
	fi
	# the others were not disturbed: they received data after the moves too
	# shellcheck disable=SC2086
	[ "$PAIRS" -gt "$MOVES" ] && check "the $((PAIRS - MOVES)) pairs that stayed kept flowing" \
		wait_until 60 flowing "$tl" $(seq "$MOVES" $((PAIRS - 1)))
	for k in 2 3 4; do
		want=0
		for i in $MOVING; do [ "${NEWNODE[$i]}" = "$k" ] && want=$((want + 1)); done
		info "n$k now hosts $(jobs_of "$k") jobs ($want moved in)"
	done
	mark "moves done"
	mem moved
fi
# traffic goes on for LOAD_AFTER seconds (the time it runs, not a wait for something); then
# every stream, moved or not, must still flow both ways
sleep "${LOAD_AFTER:-5}"
# shellcheck disable=SC2086
if wait_until 30 flowing "$(now_us)" $ALL; then
	ok "after ${LOAD_AFTER:-5} s more, all $PAIRS streams still flow both ways"
else
	bad "after ${LOAD_AFTER:-5} s more, not every stream flows both ways"
	# for the kept files: each client's and server's TCP state (ss -tin)
	for i in $ALL; do
		ip netns exec "${CNS[$i]}" ss -tin >"$T/ss.c$i" 2>&1
		ip netns exec "$P-js$i" ss -tin >"$T/ss.s$i" 2>&1
	done
fi

# --- the end: every client stops cleanly; both ends' byte counts agree, nothing failed
for i in $ALL; do kill -TERM "${CPID[$i]}" 2>/dev/null; done
fails=0
for i in $ALL; do
	wait "${CPID[$i]}" || { fails=$((fails + 1)); bad "pair $i: client: $(tail -n 2 "$T/cli.$i.${CSEQ[$i]}.out")"; }
	wait "${SPID[$i]}" || { fails=$((fails + 1)); bad "pair $i: server: $(tail -n 2 "$T/srv.$i.out")"; }
done
res=$(python3 - "$T" "$PAIRS" <<'EOF'
import glob, sys
t, n = sys.argv[1], int(sys.argv[2])
def conns(path):
    r = {}
    for line in open(path):
        if line.startswith("conn id="):
            f = dict(w.split("=", 1) for w in line.split()[1:5])
            r[int(f["id"])] = (int(f["rx"]), int(f["tx"]), f.get("state", "?"))
    return r
bad, total = [], 0
for i in range(n):
    outs = sorted(glob.glob("%s/cli.%d.*.out" % (t, i)))
    c, s = conns(outs[-1]), conns("%s/srv.%d.out" % (t, i))
    if set(c) != {i} or set(s) != {i}:
        bad.append("pair %d: connections %s / %s" % (i, sorted(c), sorted(s)))
        continue
    (rx, tx, cs), (srx, stx, ss) = c[i], s[i]
    if cs != "closed" or ss != "closed" or rx != stx or tx != srx or rx == 0 or tx == 0:
        bad.append("pair %d: client rx=%d tx=%d %s, server rx=%d tx=%d %s"
                   % (i, rx, tx, cs, srx, stx, ss))
    total += rx + tx
print("; ".join(bad) if bad else "%d pairs, %d bytes checked" % (n, total))
sys.exit(1 if bad else 0)
EOF
) && [ "$fails" = 0 ] && ok "no connection lost, every byte right: $res" ||
	bad "streams: $res"
mark "streams checked"
mem after_traffic

# --- the idle jobs go (detach), and the bounds
if [ "$IDLE" -gt 0 ]; then
	t=$EPOCHREALTIME
	if out=$(python3 "$LOADJOBS" detach "$(sock 1)" "$IDLE_VIP0" "$IDLE" 2>&1); then
		ok "$IDLE idle jobs detached in $(awk -v a="$t" -v b="$EPOCHREALTIME" \
			'BEGIN { printf "%.1f", b - a }') s"
	else
		bad "detach: $out"
	fi
fi
mem after
for k in 1 2 3 4; do
	read -r _ hwm _ <<<"$(eval echo "\$MEM_after_$k")"
	read -r _ _ fd0 <<<"$(eval echo "\$MEM_before_$k")"
	read -r _ _ fdd <<<"$(eval echo "\$MEM_during_$k")"
	read -r _ _ fda <<<"$(eval echo "\$MEM_after_$k")"
	nj=$(jobs_of "$k")
	# during: 2 fds per job (its TUN and its namespace) on n1, plus the links; after:
	# back to what it started with, plus 2 per job it still holds
	maxd=$((fd0 + FD_SLACK + 2 * ($k == 1 ? JOBS_N : PAIRS)))
	maxa=$((fd0 + FD_SLACK + 2 * nj))
	if [ $((hwm / 1024)) -lt "$RSS_MAX_MIB" ] && [ "$fdd" -le "$maxd" ] && [ "$fda" -le "$maxa" ]; then
		ok "n$k: peak RSS $((hwm / 1024)) MiB < $RSS_MAX_MIB MiB; fds $fd0 -> $fdd -> $fda" \
			"(bounds $maxd, $maxa with $nj jobs left)"
	else
		bad "n$k: peak RSS $((hwm / 1024)) MiB (bound $RSS_MAX_MIB), fds $fd0 -> $fdd -> $fda" \
			"(bounds $maxd during, $maxa after with $nj jobs left)"
	fi
done
info "load run took $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
finish
