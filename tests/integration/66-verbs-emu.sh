#!/usr/bin/env bash
# The verbs substrate between two real daemons over the emulated fabric (shared memory,
# tunnel/fabric_emu.c; this machine has no RDMA device). Each daemon gets its own
# emulated device through the test-only environment (TUNVNET_TEST_VERBS_EMU) and
# `[substrate] policy = auto`; n2's receivers post slowly (one buffer per ms), so the
# sender runs out of credits and waits. Checks: verbs comes up and is in use, a checked
# stream n1 -> n2 crosses it, then a send completion in error on n1's device mid-stream
# fails the verbs link: data moves to TCP and the stream still finishes with every byte
# right, and verbs comes back (auto). 67-verbs-none: a daemon without the switch.
# timeout: 150
. "$(dirname "$0")/lib.sh"
need python3
FAULT=$ROOT/${BUILD:-build}/tools/verbs-emu-fault
[ -x "$FAULT" ] || abort "no $FAULT (run make tests)"
EMU=$(mktemp -d /dev/shm/tv-verbs-emu.XXXXXX)
REAL_TUNVNETD=$TUNVNETD
PORT=5001
MIB=48

# The daemons start through this wrapper: their own emulated device each, verbs preferred.
cat >"$T/tunvnetd" <<EOF
#!/bin/bash
conf=\$2
k=\$(basename "\$conf" .conf)
printf '\n[substrate]\npolicy = auto\n' >>"\$conf"
[ "\$k" = n2 ] && export TUNVNET_TEST_VERBS_RECV_HOLD_MS=1
TUNVNET_TEST_VERBS_EMU=$EMU/\$k exec "$REAL_TUNVNETD" "\$@"
EOF
chmod +x "$T/tunvnetd"
export TUNVNETD=$T/tunvnetd
trap 'cleanup; rm -rf "$EMU"' EXIT

# sub_state K NODE NAME: the state of substrate NAME toward NODE as node K shows it.
sub_state() {
	ctl "$1" --json peers 2>/dev/null | jget "[s['state'] for p in d if p['node'] == '$2'
for s in p.get('substrates', []) if s['name'] == '$3'][0]" 2>/dev/null
}
in_use() { [ "$(sub_state "$1" "$2" "$3")" = "in use" ]; }
# verbs_rx K NODE: frames node K received on its verbs data link from NODE, and whether
# the link is sealed ("1234 sealed").
verbs_rx() {
	ctl "$1" --json peers 2>/dev/null | jget "' '.join(str(x) for x in [(l['rx_frames'],
l['protection']) for p in d if p['node'] == '$2' for l in p['links']
if l['role'] == 'data' and l['substrate'] == 'verbs'][0])" 2>/dev/null
}

# stream SRC DST MIB: a sha256-checked TCP stream from job SRC to job DST; prints
# "ok BYTES" when both ends agree.
start_receiver() {
	spawn jx "$P-j2" timeout 120 python3 -c '
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
buf = bytearray(1 << 20)
while True:
    k = c.recv_into(buf)
    if not k:
        break
    h.update(memoryview(buf)[:k])
    n += k
print(n, h.hexdigest())' "${VIP4[$P-j2]}" $PORT >"$T/recv"
	srv=$!
	wait_until 30 listening "$P-j2" $PORT || bad "the receiver does not listen"
}
# send MIB [FAULT_AT_MIB]: sends MIB MiB; at FAULT_AT_MIB, touches $T/fault and waits
# until $T/faulted exists before going on.
send_stream() {
	jx "$P-j1" timeout 120 python3 -c '
import hashlib, os, socket, struct, sys, time
dst, port, mib, at, tdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = socket.create_connection((dst, port), timeout=10)
s.settimeout(60)
block = os.urandom(1 << 20)
h = hashlib.sha256()
for i in range(mib):
    if i == at:
        open(tdir + "/fault", "w").close()
        end = time.time() + 30
        while not os.path.exists(tdir + "/faulted") and time.time() < end:
            time.sleep(0.05)
    chunk = struct.pack("<Q", i) + block[8:]
    h.update(chunk)
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(mib << 20, h.hexdigest())' "${VIP4[$P-j2]}" $PORT "$1" "${2:--1}" "$T" >"$T/send"
}
same_stream() {
	local sb sh rb rh
	read -r sb sh <"$T/send" 2>/dev/null
	read -r rb rh <"$T/recv" 2>/dev/null
	[ -n "${sb:-}" ] && [ "$sb" = "${rb:-}" ] && [ "$sh" = "${rh:-}" ]
}

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
grep -q "data on verbs" "$CDIR/n1.log" && ok "n1's log says data went on verbs" ||
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
check "verbs comes back once the device works again (auto)" wait_until 30 in_use 1 n2 verbs

finish
