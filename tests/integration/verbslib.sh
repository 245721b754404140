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

