# shellcheck shell=bash
# Helpers of the verbs tests (66-verbs-emu.sh, scripts/verbs-selftest), sourced after
# lib.sh: which substrate a node uses, what its verbs link carried, and a sha256-checked
# TCP stream from job $P-j1 to job $P-j2 (files in $T).
PORT=${PORT:-5001}

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

# start_receiver: the receiving end in $P-j2 (its PID in $srv), once it listens.
start_receiver() {
	spawn jx "$P-j2" timeout 120 python3 "$ROOT/tests/tools/checkstream.py" recv \
		"${VIP4[$P-j2]}" $PORT >"$T/recv" 2>"$T/recv.err"
	srv=$!
	wait_until 30 listening "$P-j2" $PORT || bad "the receiver does not listen"
}
# send_stream MIB [FAULT_AT_MIB]: sends MIB MiB (from $P-j1, to start_receiver's end); at
# FAULT_AT_MIB, touches $T/fault and waits until $T/faulted exists before going on.
send_stream() {
	local fault=()
	[ -n "${2:-}" ] && fault=(--fault-at "$2" "$T")
	echo $(($1 << 20)) >"$T/send.want"  # a file: send_stream may run in the background
	jx "$P-j1" timeout 120 python3 "$ROOT/tests/tools/checkstream.py" send \
		"${VIP4[$P-j2]}" $PORT --mib "$1" "${fault[@]}" --timeout 60 >"$T/send" 2>"$T/send.err"
}
# same_stream: both ends of the last stream saw all its bytes, with the same sha256 (else
# says what each end saw, and why a side failed).
same_stream() {
	local sb sh rb rh want
	read -r want <"$T/send.want"
	read -r sb sh _ <"$T/send" 2>/dev/null
	read -r rb rh <"$T/recv" 2>/dev/null
	[ -n "${sb:-}" ] && [ "$sb" = "$want" ] && [ "$sb" = "${rb:-}" ] &&
		[ "$sh" = "${rh:-}" ] && return 0
	echo "    sent ${sb:-?} B ${sh:-?}, received ${rb:-?} B ${rh:-?}"
	sed 's/^/    /' "$T/send.err" "$T/recv.err" 2>/dev/null
	return 1
}

