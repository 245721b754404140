#!/usr/bin/env bash
# Live migration with TCP_REPAIR: job X (198.19.1.10) streams both ways to job Y on n3
# over 4 connections while X moves n1 -> n2 -> n3 -> n1; each move checkpoints X's sockets
# (tcpmig, as CRIU --tcp-established does), deletes X's namespace and restores the sockets
# in a new one on the next node (n3 is Y's own node: local switching). Every byte is
# checked in order at both ends, no connection resets; the stall of each move is printed.
# timeout: 240
# shares: migrate (TCP_REPAIR moves under full-rate streams: two at once starve each other)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/miglib.sh"
need python3
need_tcpmig
VX=198.19.1.10
PORT=5100
CONNS=4
RATE=${MIG_RATE:-1M}

cluster_up 3
vjob "$P-jy" 3 198.19.3.10 || abort "job Y"
spawn ip netns exec "$P-jy" "$TCPMIG" serve --port $PORT --conns $CONNS --rate "$RATE" \
	--status "$MIG_DIR/srv.json" >"$MIG_DIR/srv.out" 2>&1
srv=$!
MIG_SRV_STATUS=("$MIG_DIR/srv.json")
check "every node routes X and Y" wait_until 30 routes_ok 198.19.3.10 3
mig_client "$P-jx" 1 $VX --connect 198.19.3.10:$PORT --conns $CONNS --rate "$RATE" ||
	abort "job X"
check "X streams to Y on $CONNS connections, both ways" mig_wait_flowing 30 0
sleep 0.5   # traffic flows a moment before the first move (not a wait for something)

epoch=$(ctl 1 --json routes | jget "[e['epoch'] for e in d if e['vip'] == '$VX'][0]")
for to in 2 3 1; do
	from=$MIG_NODE
	# once, the job stops reading just before the move: its receive queues are saved
	# full and put back by the restore
	MIG_PAUSE_RX=0
	[ "$to" = 3 ] && MIG_PAUSE_RX=1
	if ! mig_move "$to"; then
		abort "move n$from -> n$to failed"
	fi
	ok "move n$from -> n$to: traffic resumed (the move as scripted: $MOVE_MS ms:" \
		"$MOVE_PHASES)"
	if [ "$MIG_PAUSE_RX" = 1 ]; then
		rq=$(sed -n 's/.* recvq=\([0-9]*\) .*/\1/p' "$MIG_DIR/cli.$((MIG_SEQ - 1)).out" |
			awk '{ s += $1 } END { print s + 0 }')
		if [ "$rq" -gt 0 ]; then
			ok "move n$from -> n$to: $rq bytes of receive queues checkpointed" \
				"and restored"
		else
			bad "move n$from -> n$to: the job stopped reading, yet no receive" \
				"queue was saved"
		fi
	fi
	read -r s_job s_srv t_ck t_rs s_net <<<"$MOVE_STALL"
	info "move n$from -> n$to: stall $s_job ms at X (last byte before the checkpoint to the" \
		"first after the restore), $s_srv ms at Y; the tool: checkpoint $t_ck ms +" \
		"restore $t_rs ms; the stall at X minus the tool's time: $s_net ms" \
		"$([ "$MIG_PAUSE_RX" = 1 ] && echo "(X had stopped reading 300 ms before)")"
	new_epoch=$(jget 'd["epoch"]' <<<"$MOVE_ACT")
	prev=$(jget 'd["previous_node"]' <<<"$MOVE_ACT")
	if [ "$new_epoch" -gt "$epoch" ] && [ "$prev" = "n$from" ]; then
		ok "activate on n$to: epoch $epoch -> $new_epoch, previous node $prev," \
			"converged in $(jget 'd["converged_ms"]' <<<"$MOVE_ACT") ms"
	else
		bad "activate on n$to: result $MOVE_ACT (epoch before $epoch, from n$from)"
	fi
	epoch=$new_epoch
	check "every node routes $VX to n$to" wait_until 30 routes_ok $VX "$to"
	# the old node must answer, and list no job with VX (an unanswered question is
	# not an answer)
	if ! jobs=$(ctl "$from" --json jobs 2>&1); then
		bad "n$from cannot be asked for its jobs: $jobs"
	elif ! held=$(jget "len([j for j in d if '$VX' in j['vips']])" <<<"$jobs" 2>&1) ||
	     ! [[ $held =~ ^[0-9]+$ ]]; then
		bad "n$from's job list is unreadable: $jobs"
	elif [ "$held" != 0 ]; then
		bad "n$from still lists a job with $VX: $jobs"
	else
		ok "n$from no longer hosts $VX"
	fi
	sleep 1   # traffic flows between the moves
done

all_open() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if len(d["conns"]) == int(sys.argv[2]) and
         all(c["state"] == "open" for c in d["conns"]) else 1)' "$(mig_status)" $CONNS
}
check "X's connections are open after 3 moves" all_open
mig_end "$srv"
finish
