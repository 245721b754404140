#!/usr/bin/env bash
# Restart survival (tunvnet/state.h): n1's daemon is killed (SIGKILL, as a crash), then
# stopped (SIGTERM, as `systemctl restart`), and started again each time, under three
# checked TCP streams: between two of n1's jobs, from one of them to a job on n2, and
# back from n2. The restarted daemon takes its jobs up again from its state file (their
# persistent TUNs never went away), and every stream finishes with every byte right.
# Then the state file's mismatches: a job whose namespace was deleted meanwhile is
# dropped with its reason logged and its route withdrawn, the others come back; a
# corrupt state file is set aside and named in the log. SIGUSR2, the explicit teardown,
# destroys the TUNs and withdraws the routes.
. "$(dirname "$0")/lib.sh"
need python3 ping
STREAM=$ROOT/tests/tools/checkstream.py
LOG=$CDIR/n1.log
SFILE=$CDIR/n1.state/state.json

cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 1 1
job "$P-j3" 2 0
check "both nodes route every job" wait_jobs_routed 30
check "n1 wrote its state file" wait_until 10 test -s "$SFILE"

# stream NAME FROM TO PORT: a checked stream from job FROM to job TO's VIP.
SENDERS=()
stream() {
	local name=$1 from=$2 to=$3 port=$4
	spawn jx "$to" timeout 300 python3 "$STREAM" recv "${VIP4[$to]}" "$port" \
		"$T/$name.prog" >"$T/$name.recv" 2>"$T/$name.rerr"
	RECEIVERS+=($!)
	wait_until 30 listening "$to" "$port" || bad "stream $name: no receiver on $port"
	spawn jx "$from" timeout 300 python3 "$STREAM" send "${VIP4[$to]}" "$port" "$T/stop" \
		>"$T/$name.send" 2>"$T/$name.serr"
	SENDERS+=($!)
}
RECEIVERS=()
NAMES=(local out in)
stream local "$P-j1" "$P-j2" 5101
stream out "$P-j1" "$P-j3" 5102
stream in "$P-j3" "$P-j2" 5103

prog() { local n; n=$(cat "$T/$1.prog" 2>/dev/null); echo "${n:-0}"; }
# all_past BYTES...: each stream (in NAMES order) has carried more than its BYTES.
all_past() {
	local i=0 b
	for b in "$@"; do
		[ "$(prog "${NAMES[$i]}")" -gt "$b" ] || return 1
		i=$((i + 1))
	done
}
check "the three streams flow" wait_until 30 all_past 1000000 1000000 1000000

taken_up() { grep -c "taken up again after the restart" "$LOG" 2>/dev/null; }

# restart HOW: stops n1 with HOW (--kill or "") and starts it again; the streams must
# carry 2 MB more each afterwards.
restart() {
	local how=$1 what=SIGTERM before=() n t0
	[ "$how" = --kill ] && what=SIGKILL
	for n in "${NAMES[@]}"; do before+=($(( $(prog "$n") + 2000000 ))); done
	n=$(taken_up)
	t0=$EPOCHREALTIME
	"$CLUSTER" stop 1 $how || abort "cannot stop n1 with $what"
	check "$what: n1's jobs keep their TUN while no daemon holds it" \
		q ip -n "$P-j1" link show tv0
	"$CLUSTER" start 1 || abort "n1 does not start again after $what"
	check "$what: the restarted n1 took both its jobs up again" \
		wait_until 10 eval '[ "$(taken_up)" -ge $((n + 2)) ]'
	check "$what: n1 and n2 meet again" wait_until 30 peer_up 1 n2
	if wait_until 60 all_past "${before[@]}"; then
		ok "$what: every stream carried 2 MB more, $(awk -v a="$t0" -v b="$EPOCHREALTIME" \
			'BEGIN { printf "%.1f", b - a }') s after the stop"
	else
		bad "$what: the streams did not go on (local $(prog local), out $(prog out)," \
			"in $(prog in) bytes)"
	fi
}
restart --kill
restart ""

touch "$T/stop"
for p in "${SENDERS[@]}" "${RECEIVERS[@]}"; do wait "$p"; done
for n in "${NAMES[@]}"; do
	read -r sb sh _ <"$T/$n.send" 2>/dev/null
	read -r rb rh <"$T/$n.recv" 2>/dev/null
	if [ -n "${sb:-}" ] && [ "${sb:-}" = "${rb:-}" ] && [ "${sh:-}" = "${rh:-}" ]; then
		ok "stream $n: all $sb bytes arrived, sha256 equal"
	else
		bad "stream $n: sent ${sb:-?} ${sh:-?}, received ${rb:-?} ${rh:-?}:" \
			"$(tr '\n' '|' <"$T/$n.serr") $(tr '\n' '|' <"$T/$n.rerr")"
	fi
done

# routed K VIP: node K routes VIP (to anyone, live).
routed() {
	ctl "$1" --json routes 2>/dev/null | python3 -c 'import json, sys
sys.exit(0 if any(e.get("vip", "").split("/")[0] == sys.argv[1] for e in json.load(sys.stdin)) else 1)' "$2"
}

# A job whose namespace goes while the daemon is down.
job "$P-j4" 1 2
check "n2 routes $P-j4" wait_until 10 routed 2 "${VIP4[$P-j4]}"
"$CLUSTER" stop 1 || abort "cannot stop n1"
ip netns del "$P-j4"
"$CLUSTER" start 1 || abort "n1 does not start with a job gone"
check "the job whose namespace was deleted is dropped, its reason logged" \
	grep -q "job $P-j4 (${VIP4[$P-j4]}, ...): dropped: its namespace is gone" "$LOG"
check "n2 no longer routes its VIP" wait_until 30 eval '! routed 2 "${VIP4[$P-j4]}"'
check "the other jobs came back: $P-j1 -> $P-j2 (local)" \
	wait_until 30 q jx "$P-j1" ping -c 1 -W 1 "${VIP4[$P-j2]}"
check "the other jobs came back: $P-j1 -> $P-j3 (n2)" \
	wait_until 30 q jx "$P-j1" ping -c 1 -W 1 "${VIP4[$P-j3]}"
check "... over IPv6 too" wait_until 30 q jx "$P-j2" ping -c 1 -W 1 "${VIP6[$P-j3]}"

# SIGUSR2: the explicit teardown. Every job detached for good, the peers told, the file
# keeps only the epochs (tombstones), then the daemon stops.
pid=$(daemon_pid 1)
kill -USR2 "$pid"
check "SIGUSR2: n1's daemon tears down and stops" wait_until 15 eval '! kill -0 $pid 2>/dev/null'
check "SIGUSR2: $P-j1's TUN is destroyed" eval '! ip -n "$P-j1" link show tv0 >/dev/null 2>&1'
check "SIGUSR2: $P-j2's TUN is destroyed" eval '! ip -n "$P-j2" link show tv0 >/dev/null 2>&1'
check "SIGUSR2: n2 no longer routes $P-j1's VIP" wait_until 10 eval '! routed 2 "${VIP4[$P-j1]}"'
check "SIGUSR2: the state file names no job, and keeps $P-j1's epoch as withdrawn" \
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["jobs"] == [] and any(r["vip"] == sys.argv[2] and r["withdrawn"]
                                      for r in d["routes"]) else 1)' "$SFILE" "${VIP4[$P-j1]}"

# A corrupt state file.
printf '{"version": 1, "node": "n1", "jobs": [{"netns": ' >"$SFILE"
"$CLUSTER" start 1 || abort "n1 does not start with a corrupt state file"
aside=$(ls "$SFILE".bad-* 2>/dev/null | head -1)
check "the corrupt state file is set aside" test -n "$aside"
check "... and named in the log" grep -q "state file $SFILE is unusable (not JSON.*set aside as $aside" "$LOG"
check "... and a good one written in its place" \
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$SFILE"

finish
