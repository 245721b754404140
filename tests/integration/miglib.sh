# shellcheck shell=bash
# Helpers of the live-migration tests (97-99) and of scripts/soak-migrate and
# scripts/bench-migrate, sourced after lib.sh. A migrating job runs `tcpmig client` (or a
# `tcpmig restore` of it); mig_move moves it to another node with TCP_REPAIR, in the order
# a checkpoint/restore tool drives tunvnet:
#
#   old node: vnetctl suspend     (the daemon holds the job's incoming packets)
#   job:      SIGUSR1             (tcpmig checkpoints its sockets to a file and exits
#                                  silently: no FIN, no RST)
#             ip netns del OLD    (nothing of the old kernel state remains)
#   new node: ip netns add NEW; vnetctl attach --standby --netns NEW --vip VIP
#             tcpmig restore      (the sockets rebuilt in NEW, repair off)
#   new node: vnetctl activate    (announce; the old node hands the held packets over)
#
# and measures the stall from the tools' own timestamps (CLOCK_REALTIME microseconds).

case ${BUILD:-build} in
/*) TCPMIG=${TCPMIG:-$BUILD/tools/tcpmig} ;;
*) TCPMIG=${TCPMIG:-$ROOT/${BUILD:-build}/tools/tcpmig} ;;
esac

# node_pid K: the PID of node K's daemon (lib.sh's daemon_pid knows only the default
# cluster's directory).
node_pid() {
	local dir=/run/tunvnet/$P-cluster
	[ "$P" = tv ] && dir=/run/tunvnet/cluster
	cat "$dir/n$1.pid" 2>/dev/null
}

need_tcpmig() {
	[ -x "$TCPMIG" ] || abort "tcpmig is not built at $TCPMIG (run make tests, or set TCPMIG)"
}

# vjob NS K VIP [--standby]: job namespace NS attached to node K with the one VIP.
vjob() {
	local ns=$1 k=$2 vip=$3 out
	shift 3
	[[ $ns == "$P"-j* ]] || abort "job namespace $ns must be named $P-j*"
	ip netns add "$ns" || { bad "ip netns add $ns"; return 1; }
	JOBS+=("$ns")
	ip -n "$ns" link set lo up
	if ! out=$(ctl "$k" attach --netns "$ns" --vip "$vip" "$@" 2>&1); then
		bad "attach $* $vip to $ns on n$k: $out"
		return 1
	fi
}

# The analysis half, in Python: reads tcpmig's state and status files.
MIGPY=$T/mig.py
cat >"$MIGPY" <<'EOF'
import json, os, sys

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def state_times(path):
    """t_signal and t_saved of a checkpoint state file (its text header)."""
    t = {}
    with open(path, "rb") as f:
        for raw in f:
            k, _, v = raw.decode("latin-1").strip().partition(" ")
            if k in ("t_signal", "t_saved"):
                t[k] = int(v)
            if k == "conn":
                break
    return t

def open_conns(d):
    return [c for c in (d or {}).get("conns", []) if c["state"] == "open"]

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "flowing":
    # flowing CLI_STATUS T_US SRV_STATUS...: every connection of the restored client has
    # received a byte, and every open server connection one after T_US
    cli, t = load(args[0]), int(args[1])
    cc = open_conns(cli)
    if not cc or any(not c["t_first_rx"] for c in cc):
        sys.exit(1)
    for p in args[2:]:
        sc = open_conns(load(p))
        if not sc or any(c["t_last_rx"] <= t for c in sc):
            sys.exit(1)
    sys.exit(0)
if cmd == "stall":
    # stall STATE CLI_STATUS T_LAUNCH SRV_STATUS...: prints, in ms, the job's receive stall
    # (last byte before the checkpoint to first byte after the restore, on its worst
    # connection), the servers' (their receive gap overlapping the move), the checkpoint's
    # and the restore's own time and the job's stall minus both
    st, cli, launch = state_times(args[0]), load(args[1]), int(args[2])
    ckpt = (st["t_saved"] - st["t_signal"]) / 1000.0
    restore = (cli["t_live"] - launch) / 1000.0
    cs = max((c["t_first_rx"] - c["t_last_rx_saved"]) / 1000.0 for c in open_conns(cli))
    ss = 0.0
    for p in args[3:]:
        for c in open_conns(load(p)):
            for a, b in c["gaps"]:
                if a <= cli["t_live"] and b >= st["t_signal"]:
                    ss = max(ss, (b - a) / 1000.0)
    print("%.1f %.1f %.2f %.2f %.1f" % (cs, ss, ckpt, restore, cs - ckpt - restore))
    sys.exit(0)
if cmd == "totals":
    # totals CLIENT_OUT SERVER_OUT...: the client's and the servers' final per-connection
    # lines agree (what one end sent the other received and checked) and all are closed
    def conns(path):
        r = {}
        for line in open(path):
            if line.startswith("conn id="):
                f = dict(w.split("=", 1) for w in line.split()[1:5])
                r[int(f["id"])] = (int(f["rx"]), int(f["tx"]), f.get("state", "?"))
        return r
    cli = conns(args[0])
    srv = {}
    for p in args[1:]:
        srv.update(conns(p))
    bad = []
    for i, (rx, tx, s) in sorted(cli.items()):
        if i not in srv:
            bad.append("conn %d: unknown to the servers" % i)
            continue
        srx, stx, ss = srv[i]
        if s != "closed" or ss != "closed" or rx != stx or tx != srx:
            bad.append("conn %d: client rx=%d tx=%d %s, server rx=%d tx=%d %s"
                       % (i, rx, tx, s, srx, stx, ss))
    total = sum(rx + tx for rx, tx, _ in cli.values())
    if not cli:
        bad.append("no connection in " + args[0])
    print("; ".join(bad) if bad else "%d connections, %d bytes checked" % (len(cli), total))
    sys.exit(1 if bad else 0)
sys.exit("mig.py: unknown command " + cmd)
EOF

# A UDP flow with sequence numbers: `send` sends COUNT datagrams at RATE per second to
# IP:PORT and writes how many it sent; `recv` (one instance per namespace the job lives in)
# writes "ready" to OUT once bound and, on SIGTERM, drains its socket and writes the
# sequence numbers it received (with EXPECT: on SIGTERM it first waits, up to 60 s, until
# it holds EXPECT distinct ones: the sender is done, the last may still be on their way); `merge OUT...` counts lost, duplicated and
# reordered datagrams over all the receivers. With UDPSEQ_GATE=I:FILE in its environment,
# `send` waits before datagram I until FILE exists (up to 120 s): some of the flow then
# comes after a step of the test, however slow the machine.
UDPSEQ=$T/udpseq.py
cat >"$UDPSEQ" <<'EOF2'
import json, os, select, signal, socket, struct, sys, time

def addr(s):
    h, _, p = s.rpartition(":")
    return h.strip("[]"), int(p)

mode = sys.argv[1]
if mode == "send":
    dst, rate, count, out = addr(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    s = socket.socket(socket.AF_INET6 if ":" in dst[0] else socket.AF_INET, socket.SOCK_DGRAM)
    # Paced, never catching up: a sender the machine's load held back goes on at its
    # rate instead of sending its backlog back to back (a burst no real job makes).
    next_t, sent = time.time(), 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    pad = b"u" * 56
    gate = os.environ.get("UDPSEQ_GATE", "").partition(":")
    while sent < count and not stop:
        if gate[2] and sent == int(gate[0]):
            end = time.time() + 120
            while not os.path.exists(gate[2]) and time.time() < end and not stop:
                time.sleep(0.02)
            next_t = time.time()
        delay = next_t - time.time()
        if delay > 0:
            time.sleep(delay)
        next_t = max(next_t, time.time()) + 1 / rate
        try:
            s.sendto(struct.pack("!Q", sent) + pad, dst)
        except OSError:
            pass   # counted as lost: the receiver never sees it
        sent += 1
    with open(out, "w") as f:
        json.dump({"sent": sent}, f)
elif mode == "recv":
    bind, out = addr(sys.argv[2]), sys.argv[3]
    expect = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    s = socket.socket(socket.AF_INET6 if ":" in bind[0] else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(bind)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    with open(out + ".ready", "w") as f:
        f.write("ready\n")
    seqs, distinct, deadline = [], set(), None
    s.setblocking(False)
    while True:
        if stop and deadline is None:
            deadline = time.time() + 60
        waiting = stop and len(distinct) < expect and time.time() < deadline
        if not stop or waiting:
            select.select([s], [], [], 0.05)
        got = False
        while True:
            try:
                b = s.recv(2048)
            except BlockingIOError:
                break
            if len(b) >= 8:
                seqs.append(struct.unpack("!Q", b[:8])[0])
                distinct.add(seqs[-1])
                got = True
        if stop and not got and not waiting:
            break
    with open(out, "w") as f:
        json.dump({"seqs": seqs}, f)
elif mode == "merge":
    sent = json.load(open(sys.argv[2]))["sent"]
    # reordered: datagrams that came after one with a higher sequence number
    seen, dups, reordered, last = set(), 0, 0, -1
    for p in sys.argv[3:]:
        for q in json.load(open(p))["seqs"]:
            if q in seen:
                dups += 1
            seen.add(q)
            if q < last:
                reordered += 1
            last = max(last, q)
    lost = sent - len([q for q in seen if q < sent])
    print("%d %d %d %d %d" % (sent, len(seen), lost, dups, reordered))
EOF2

# Move state: the job's namespace, node, VIP, tcpmig PID and files.
MIG_NS="" MIG_NODE="" MIG_VIP="" MIG_PID="" MIG_SEQ=0 MIG_DIR=$T/mig
MIG_SRV_STATUS=()   # the servers' status files, for the stall on their side
mkdir -p "$MIG_DIR"
mkfifo "$MIG_DIR/sleep.fifo" && exec {MIG_SLEEPFD}<>"$MIG_DIR/sleep.fifo"

# mig_client NS K VIP ARGS...: job NS on node K with VIP runs `tcpmig client ARGS`.
mig_client() {
	MIG_NS=$1 MIG_NODE=$2 MIG_VIP=$3
	shift 3
	vjob "$MIG_NS" "$MIG_NODE" "$MIG_VIP" || return 1
	MIG_SEQ=0
	spawn ip netns exec "$MIG_NS" "$TCPMIG" client --state "$MIG_DIR/state" \
		--status "$MIG_DIR/cli.0.json" "$@" >"$MIG_DIR/cli.0.out" 2>&1
	MIG_PID=$!
}

# mig_status: the running client's (or last restore's) status file and output.
mig_status() { echo "$MIG_DIR/cli.$MIG_SEQ.json"; }
mig_out() { echo "$MIG_DIR/cli.$MIG_SEQ.out"; }

# mig_wait_flowing SECONDS T_US: the job and every server have received data after T_US.
mig_wait_flowing() {
	wait_until "$1" python3 "$MIGPY" flowing "$(mig_status)" "$2" "${MIG_SRV_STATUS[@]}"
}

# mig_recvq_full NS: a TCP connection in namespace NS has unread data.
mig_recvq_full() {
	ip netns exec "$1" ss -Htn state established 2>/dev/null | awk '$1 > 0 { f = 1 } END { exit !f }'
}

ms_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# mig_move K [NEWNS]: moves the job to node K with TCP_REPAIR (see the top of this file).
# With MIG_PAUSE_RX=1 the job stops reading 0.3 s before the move (tcpmig's SIGUSR2).
# With MIG_PREPARE_FIRST=1 the new namespace is made and attached on standby before the
# suspend, as an orchestrator that provisions the target first would; the stall is then
# what the move itself costs. The caller may define hooks to move other parts of the job
# along: mig_on_prepared NEWNS (the new namespace is on standby), mig_on_checkpointed
# OLDNS (after the checkpoint, before the old namespace goes) and mig_on_restored NEWNS
# (after the restore, before the activate). Sets MOVE_MS (the move as the script ran it,
# suspend to activate's answer), MOVE_PHASES (how long each step took, as text),
# MOVE_ACT (activate's JSON result) and, once traffic flows again,
# MOVE_STALL ("job_ms servers_ms checkpoint_ms restore_ms net_ms", see mig.py stall).
# Returns non-zero, with a "bad" line, if a step fails.
mig_move() {
	local k=$1 old=$MIG_NS new=${2:-$P-jm$((MIG_SEQ + 1))} t0 t1 t2 t3 t4 t5 tl out rc i line
	MOVE_STALL="" MOVE_ACT="" MOVE_MS="" MOVE_PHASES=""
	if [ "${MIG_PREPARE_FIRST:-0}" = 1 ]; then
		vjob "$new" "$k" "$MIG_VIP" --standby || return 1
		declare -F mig_on_prepared >/dev/null && mig_on_prepared "$new"
	fi
	rm -f "$MIG_DIR/state"
	if [ "${MIG_PAUSE_RX:-0}" = 1 ]; then
		# the job stops reading for a moment: the checkpoint finds the receive queues
		# full and the restore must put their contents back
		kill -USR2 "$MIG_PID"
		sleep 0.3   # at least this long, and until the data waits in a receive queue
		wait_until 30 mig_recvq_full "$MIG_NS" ||
			bad "move n$MIG_NODE -> n$k: no receive queue filled after SIGUSR2"
	fi
	t0=$(now_us)
	out=$(ctl "$MIG_NODE" suspend --vip "$MIG_VIP" 2>&1) ||
		{ bad "move n$MIG_NODE -> n$k: suspend: $out"; return 1; }
	t1=$(now_us)
	kill -USR1 "$MIG_PID"
	wait "$MIG_PID"
	rc=$?
	if [ $rc != 0 ] || [ ! -s "$MIG_DIR/state" ]; then
		bad "move n$MIG_NODE -> n$k: checkpoint failed (exit $rc):" \
			"$(tail -n 3 "$(mig_out)")"
		return 1
	fi
	t2=$(now_us)
	declare -F mig_on_checkpointed >/dev/null && mig_on_checkpointed "$old"
	ip netns del "$old" || { bad "ip netns del $old"; return 1; }
	t3=$(now_us)
	if [ "${MIG_PREPARE_FIRST:-0}" != 1 ]; then
		vjob "$new" "$k" "$MIG_VIP" --standby || return 1
	fi
	MIG_SEQ=$((MIG_SEQ + 1))
	tl=$(now_us)
	out=$(mig_out)
	# nsenter: only the network namespace, so starting the restore costs less than with
	# ip netns exec (which also remounts /sys in a mount namespace of its own)
	spawn nsenter --net="/run/netns/$new" "$TCPMIG" restore --state "$MIG_DIR/state" \
		--status "$(mig_status)" >"$out" 2>&1
	MIG_PID=$!
	# until the restore says it is done (or exits), for at most 30 s
	i=$(( $(now_us) + 30000000 ))
	while [ "${EPOCHREALTIME//[.,]/}" -lt "$i" ]; do   # now_us, without a fork
		IFS= read -r line <"$out" && [[ $line == restore* ]] && break
		kill -0 "$MIG_PID" 2>/dev/null || break
		read -r -t 0.001 -u "$MIG_SLEEPFD"   # a 1 ms sleep without a fork
	done
	if ! grep -q '^restore ' "$(mig_out)"; then
		bad "move n$MIG_NODE -> n$k: restore failed: $(tail -n 3 "$(mig_out)")"
		return 1
	fi
	declare -F mig_on_restored >/dev/null && mig_on_restored "$new"
	t4=$(now_us)
	if ! MOVE_ACT=$(ctl "$k" --json activate --vip "$MIG_VIP" 2>&1); then
		bad "move n$MIG_NODE -> n$k: activate: $MOVE_ACT"
		return 1
	fi
	t5=$(now_us)
	MOVE_MS=$(awk -v a="$t0" -v b="$t5" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
	MOVE_PHASES=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" \
		'BEGIN { printf "suspend %.1f, checkpoint %.1f, netns del %.1f, restore %.1f, " \
		"activate %.1f ms", (b - a) / 1e3, (c - b) / 1e3, (d - c) / 1e3, (e - d) / 1e3,
		(f - e) / 1e3 }')
	MIG_NS=$new MIG_NODE=$k
	if ! mig_wait_flowing 30 "$tl"; then
		bad "move to n$k: traffic did not resume within 30 s" \
			"(client: $(tail -n 2 "$(mig_out)"))"
		return 1
	fi
	MOVE_STALL=$(python3 "$MIGPY" stall "$MIG_DIR/state.prev" "$(mig_status)" "$tl" \
		"${MIG_SRV_STATUS[@]}")
}

# mig_stop: ends the job's client cleanly (SIGTERM: FIN after the last byte, then the
# servers' rest); 0 when it exited 0.
mig_stop() {
	kill -TERM "$MIG_PID" 2>/dev/null
	wait "$MIG_PID"
}

# mig_end SRV [LABEL]: the end of a test's stream: the client ended cleanly (mig_stop),
# its server SRV (output in $MIG_DIR/srv.out) exits 0, and both ends' totals say every
# byte arrived in order with no reset. LABEL prefixes the ok / FAIL line.
mig_end() {
	local srv=$1 label=${2:-} rc src res=""
	mig_stop
	rc=$?
	wait "$srv"
	src=$?
	if [ $rc = 0 ] && [ $src = 0 ] &&
	   res=$(python3 "$MIGPY" totals "$(mig_out)" "$MIG_DIR/srv.out"); then
		ok "${label}clean end, every byte checked in order at both ends, no reset: $res"
	else
		sed 's/^/    /' "$(mig_out)" "$MIG_DIR/srv.out" | tail -n 20
		bad "${label}end: client exit $rc, server exit $src: ${res:-}"
	fi
}
