#!/usr/bin/env bash
# [limits] against a peer and clients that ask for too much (issue 11):
#   * one peer ("flood", fakepeer with a valid certificate) announces $ANNOUNCE routes
#     (default 200,000; scripts/limits-million: 1,000,000) against routes_per_peer =
#     $PER_PEER (default 20,000): n1 keeps exactly PER_PEER of them, refuses the rest and
#     counts them (limits.routes_per_peer in stats --json, tunvnet_limit_total in
#     Prometheus, a "limit" event), its RSS stays under $RSS_MAX_MIB, `status` answers
#     throughout (the worst round trip is printed; the script checks < 100 ms), and
#     `vnetctl routes --json` streams the whole table;
#   * 200 idle control clients and 200 idle metrics connections: `vnetctl status` and a
#     scrape still answer; the oldest idle control clients were evicted and counted.
# timeout: 200
. "$(dirname "$0")/lib.sh"
need python3
FAKEPEER=$ROOT/build/tools/fakepeer
[ -x "$FAKEPEER" ] || abort "build/tools/fakepeer not built (make tests)"
ANNOUNCE=${LIMITS_ANNOUNCE:-200000}
PER_PEER=${LIMITS_PER_PEER:-20000}
RSS_MAX_MIB=${LIMITS_RSS_MAX_MIB:-64}
STATUS_MAX_MS=${LIMITS_STATUS_MAX_MS:-} # set: the worst status round trip is checked
X=$P-x51

export VNET_METRICS_PORT=9100
export VNET_LIMITS="routes_per_peer = $PER_PEER
control_clients = 16
metrics_connections = 16"
cluster_up 1
outsider "$X" 198.18.0.51
"$ROOT/scripts/vnet-ca" issue "$CDIR/ca" flood >/dev/null || abort "vnet-ca issue flood"
PID1=$(daemon_pid 1)
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID1/status"; }
rss0=$(rss_kib)

# The status prober: the control socket asked for `status` every 10 ms, each round trip
# timed (python, so that vnetctl's own start-up is not counted), until told to stop.
cat >"$T/probe.py" <<'PY'
import socket, sys, time, os
path, stopfile = sys.argv[1], sys.argv[2]
worst, n, fails = 0.0, 0, 0
while not os.path.exists(stopfile):
    t = time.monotonic()
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(path)
        s.sendall(b'{"version":1,"cmd":"status"}\n')
        buf = b""
        while b"\n" not in buf:
            k = s.recv(65536)
            if not k:
                break
            buf += k
        s.close()
        if b'"ok":true' not in buf:
            fails += 1
    except OSError:
        fails += 1
    dt = (time.monotonic() - t) * 1000
    worst = max(worst, dt)
    n += 1
    if n == 1:
        print("started", flush=True)
    time.sleep(0.01)
print("probes %d fails %d worst_ms %.1f" % (n, fails, worst), flush=True)
PY
spawn python3 "$T/probe.py" "$(sock 1)" "$T/probe.stop" >"$T/probe.out" 2>&1
PROBE=$!
wait_until 10 grep -q started "$T/probe.out" || abort "the status prober did not start"

FIRST=fd00:19:ff::1
t0=$(now_us)
ip netns exec "$X" "$FAKEPEER" --connect 198.18.0.1:7000 --ca "$CDIR/ca/ca.crt" \
	--cert "$CDIR/ca/flood.crt" --key "$CDIR/ca/flood.key" -t 120 \
	routes "$ANNOUNCE" "$FIRST" sync print flooded >"$T/fp.out" 2>&1 &
FPPID=$!
BGPIDS+=("$FPPID")
wait_until 150 grep -q flooded "$T/fp.out" ||
	bad "fakepeer did not get through $ANNOUNCE routes: $(tr '\n' '|' <"$T/fp.out")"
t1=$(now_us)
# routes --json while the flood's table is there, then the prober stops
ctl 1 --json routes >"$T/routes.json" 2>"$T/routes.err"
rc=$?
touch "$T/probe.stop"
wait "$PROBE"
rss1=$(rss_kib)
info "$ANNOUNCE routes sent and applied in $(((t1 - t0) / 1000)) ms; $(tail -1 "$T/probe.out")"
info "n1 RSS $((rss0 / 1024)) MiB at start, $((rss1 / 1024)) MiB with the flood's table"

held=$(ctl 1 --json status | jget 'd["routes"]')
check "n1 holds exactly routes_per_peer ($PER_PEER) of the peer's routes (holds ${held:-?})" \
	[ "${held:-0}" -eq "$PER_PEER" ]
refused=$(stat 1 limits.routes_per_peer)
check "the excess is refused and counted (limits.routes_per_peer ${refused:-?}, expected $((ANNOUNCE - PER_PEER)))" \
	[ "${refused:-0}" -eq $((ANNOUNCE - PER_PEER)) ]
check "and exported (tunvnet_limit_total{limit=\"routes_per_peer\"})" bash -c \
	"timeout 10 '$VNETCTL' -s '$(sock 1)' stats --prometheus |
	 grep -q '^tunvnet_limit_total{node=\"n1\",limit=\"routes_per_peer\"} $((ANNOUNCE - PER_PEER))\$'"
check "a limit event says so" bash -c "timeout 10 '$VNETCTL' -s '$(sock 1)' --json events |
	grep -q '\"limit\": \"routes_per_peer\"'"
check "RSS stays under $RSS_MAX_MIB MiB ($((rss1 / 1024)) MiB)" [ "$rss1" -lt $((RSS_MAX_MIB * 1024)) ]
probe_fails=$(sed -n 's/.*fails \([0-9]*\).*/\1/p' "$T/probe.out")
probes=$(sed -n 's/^probes \([0-9]*\).*/\1/p' "$T/probe.out")
check "status answered every probe during the flood and the listing ($(tail -1 "$T/probe.out"))" \
	[ "${probe_fails:-1}" -eq 0 ] && [ "${probes:-0}" -gt 1 ]
if [ -n "$STATUS_MAX_MS" ]; then
	worst=$(sed -n 's/.*worst_ms \([0-9]*\).*/\1/p' "$T/probe.out")
	check "status answered within $STATUS_MAX_MS ms throughout (worst ${worst:-?} ms)" \
		[ "${worst:-100000}" -lt "$STATUS_MAX_MS" ]
fi
n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$T/routes.json" 2>/dev/null)
check "vnetctl routes --json streams the whole table ($n entries, exit $rc)" \
	[ "$rc" -eq 0 ] && [ "${n:-0}" -eq "$PER_PEER" ]

# ---- idle clients ----
cat >"$T/mholder.py" <<'PY'
import socket, sys, time
held = [socket.create_connection(("198.18.0.1", 9100)) for i in range(200)]
print("holding", len(held), flush=True)
time.sleep(60)
PY
cat >"$T/cholder.py" <<'PY'
import socket, sys, time
held = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(60)
PY
ev0=$(stat 1 limits.control_evicted)
spawn python3 "$T/cholder.py" "$(sock 1)" >"$T/cholder.out" 2>&1
spawn ip netns exec "$X" python3 "$T/mholder.py" >"$T/mholder.out" 2>&1
wait_until 20 grep -q "holding 200" "$T/cholder.out" || bad "200 control clients not connected: $(cat "$T/cholder.out")"
wait_until 20 grep -q "holding 200" "$T/mholder.out" || bad "200 metrics connections not made: $(cat "$T/mholder.out")"
check "with 200 idle control clients and 200 idle metrics connections, vnetctl status answers" \
	bash -c "timeout 10 '$VNETCTL' -s '$(sock 1)' status | grep -q '^node: *n1'"
check "and a scrape answers" bash -c "ip netns exec '$X' python3 -c '
import socket
s = socket.create_connection((\"198.18.0.1\", 9100), timeout=8)
s.sendall(b\"GET /metrics HTTP/1.0\\r\\n\\r\\n\")
b = b\"\"
while True:
    k = s.recv(65536)
    if not k: break
    b += k
assert b.startswith(b\"HTTP/1.1 200\") and b\"tunvnet_limit_total\" in b, b[:100]'"
ev=$(stat 1 limits.control_evicted)
check "the oldest idle control clients were evicted and counted (control_evicted ${ev:-?})" \
	[ "$((${ev:-0} - ${ev0:-0}))" -ge $((200 - 16)) ]
finish
