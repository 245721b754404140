#!/usr/bin/env bash
# The verbs substrate between two real daemons over the emulated fabric (shared memory,
# tunnel/fabric_emu.c; this machine has no RDMA device). Each daemon gets its own
# emulated device through the test-only environment (TUNVNET_TEST_VERBS_EMU) and
# `[substrate] policy = verbs` (verbs whenever its link is up, else TCP, as the chooser
# falls back for a pinned substrate); n2's receivers post slowly (one buffer per ms), so the
# sender runs out of credits and waits. Checks: verbs comes up and is in use, a checked
# stream n1 -> n2 crosses it, then a send completion in error on n1's device mid-stream
# fails the verbs link: data moves to TCP and the stream still finishes with every byte
# right, and verbs comes back once the device works again. 67-verbs-none: a daemon without the switch.
# timeout: 150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/verbslib.sh"
need python3
FAULT=$ROOT/${BUILD:-build}/tools/verbs-emu-fault
[ -x "$FAULT" ] || abort "no $FAULT (run make tests)"
EMU=$(mktemp -d /dev/shm/tv-verbs-emu.XXXXXX)
REAL_TUNVNETD=$TUNVNETD
MIB=48

# The daemons start through this wrapper: their own emulated device each, verbs preferred.
cat >"$T/tunvnetd" <<EOF
#!/bin/bash
conf=\$2
k=\$(basename "\$conf" .conf)
[ "\$k" = n2 ] && export TUNVNET_TEST_VERBS_RECV_HOLD_MS=1
TUNVNET_TEST_VERBS_EMU=$EMU/\$k exec "$REAL_TUNVNETD" "\$@"
EOF
chmod +x "$T/tunvnetd"
export TUNVNETD=$T/tunvnetd VNET_SUBSTRATE=verbs
trap 'cleanup; rm -rf "$EMU"' EXIT

cluster_up 2
check "n1 uses verbs toward n2" wait_until 20 in_use 1 n2 verbs
check "n2 uses verbs toward n1" wait_until 20 in_use 2 n1 verbs
job "$P-j1" 1 0
job "$P-j2" 2 0
check "both jobs routed" wait_jobs_routed 30

# 1. A checked stream over verbs, into a receiver that posts slowly.
read -r rx0 _ <<<"$(verbs_rx 2 n1)"
start_receiver
send_stream "$MIB"
wait "$srv"
check "$MIB MiB n1 -> n2 over verbs (slow receiver): every byte right" same_stream
read -r rx1 prot <<<"$(verbs_rx 2 n1)"
if [ "$(( ${rx1:-0} - ${rx0:-0} ))" -ge $((MIB * 16)) ] && [ "$prot" = sealed ]; then
	ok "n2 received $(( rx1 - rx0 )) sealed frames on its verbs link"
else
	bad "n2's verbs link carried too little: ${rx0:-?} -> ${rx1:-?} ($prot)"
fi
check "verbs still in use after the stream" in_use 1 n2 verbs
grep -Eq "peer n2: data .*-> verbs" "$CDIR/n1.log" && ok "n1's log says data went on verbs" ||
	bad "n1 never put data on verbs"

# 2. Completions in error mid-stream: the verbs link fails, data moves to TCP at once.
rm -f "$T/fault" "$T/faulted"
start_receiver
send_stream "$MIB" $((MIB / 3)) &
sender=$!
if wait_until 60 test -e "$T/fault"; then
	# Every send on n1's device fails from now on (until cleared below), so the verbs
	# link that fails cannot come back in between and hide the move.
	"$FAULT" "$EMU/n1" fail-sends 1000000000 || bad "cannot inject the fault"
	t0=$(now_us)
	if wait_until 5 in_use 1 n2 tcp; then
		ok "n1 on TCP $(( ($(now_us) - t0) / 1000 )) ms after the completion error"
	else
		bad "n1 did not move to TCP: $(sub_state 1 n2 verbs)"
	fi
	touch "$T/faulted"
else
	bad "the sender never reached the fault point"
fi
wait "$sender"
wait "$srv"
check "the stream across the failover: every byte right" same_stream
grep -q "send completion" "$CDIR/n1.log" && ok "n1's log gives the completion error" ||
	bad "n1's log does not say why verbs failed"
"$FAULT" "$EMU/n1" fail-sends 0 || bad "cannot clear the fault"
check "verbs comes back once the device works again" wait_until 30 in_use 1 n2 verbs

finish
