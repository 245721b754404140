#!/usr/bin/env bash
# The metrics endpoint under hostile clients: idle connections cannot lock a scraper out
# (the oldest idle one is evicted for a newcomer, per address and in all), a request head
# with a NUL is answered or closed at once instead of waiting for the timeout, and an
# idle connection is closed after metrics_timeout.
# timeout: 120
. "$(dirname "$0")/lib.sh"
need python3

export VNET_METRICS_PORT=9100
# (VNET_LIMITS= in the environment runs it with the defaults, e.g. against an older daemon)
export VNET_LIMITS="${VNET_LIMITS-metrics_connections = 12
metrics_per_address = 8
metrics_timeout = 3}"
cluster_up 1
ADDR=198.18.0.1

# The client side, in n1's namespace: 198.18.0.1 and 127.0.0.1 are two client addresses.
cat >"$T/client.py" <<'PY'
import socket, sys, time

PORT = int(sys.argv[1])
ADDR = sys.argv[2]

def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect((ADDR, PORT))
    return s

def exchange(data, src, timeout):
    """Sends data; returns (reply, seconds until the reply ended or the connection closed)."""
    s = conn(src)
    s.settimeout(timeout)
    t = time.monotonic()
    s.sendall(data)
    out = b""
    try:
        while True:
            k = s.recv(65536)
            if not k:
                break
            out += k
    except socket.timeout:
        out += b"<no answer>"
    except ConnectionResetError:
        out += b"<reset>"
    s.close()
    return out, time.monotonic() - t

def scrape(src, path="/metrics"):
    out, dt = exchange(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n", src, 8)
    head, _, body = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(errors="replace"), body, dt

cmd = sys.argv[3]
if cmd == "idle":
    # N idle connections from each address in turn, held while a scrape is made from
    # each address; prints the scrapes' status lines, then writes the last body.
    n = int(sys.argv[4])
    held = []
    for i in range(n):
        held.append(conn(("198.18.0.1", "127.0.0.1")[i % 2]))
    time.sleep(0.2)
    for src in ("198.18.0.1", "127.0.0.1"):
        status, body, dt = scrape(src)
        print("%s %s %d %.2f" % (src, status.replace(" ", "_"), len(body), dt))
    open(sys.argv[5], "wb").write(body)
    # the oldest were evicted: a held connection that was closed reads EOF at once
    closed = 0
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    print("closed", closed)
elif cmd == "nul":
    # requests with a NUL before the end of their head: answered with an error, or closed,
    # well before the timeout
    bad = 0
    for req in (b"\0GET /metrics HTTP/1.0\r\n\r\n", b"\0\r\n\r\n",
                b"GET /metrics\0 HTTP/1.0\r\n\r\n", b"GET /metrics HTTP/1.0\0\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nHost: a\0b\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\n\0Host: x\r\n\r\n"):
        out, dt = exchange(req, "198.18.0.1", 10)
        status = out.split(b"\r\n")[0].decode(errors="replace")
        ok = dt < 1.5 and b"<no answer>" not in out
        print("%-45r -> %-30s %.2f s %s" % (req, status, dt, "ok" if ok else "SLOW"))
        bad += not ok
    sys.exit(1 if bad else 0)
elif cmd == "timeout":
    # an idle connection is closed by the daemon after metrics_timeout (3 s)
    s = conn("198.18.0.1")
    s.settimeout(10)
    t = time.monotonic()
    try:
        k = s.recv(1)
    except (socket.timeout, ConnectionResetError):
        k = None
    dt = time.monotonic() - t
    print("%.1f" % dt)
    sys.exit(0 if k == b"" and 2 <= dt <= 6 else 1)
PY
client() { ip netns exec "$P-n1" python3 "$T/client.py" "$VNET_METRICS_PORT" "$ADDR" "$@"; }

# ---- idle connections ----
if client idle 200 "$T/body" >"$T/idle.out" 2>&1; then :; fi
sed 's/^/    /' "$T/idle.out"
check "with 200 idle connections held, a scrape from their address answers 200" \
	grep -q '^198.18.0.1 HTTP/1.1_200_OK' "$T/idle.out"
check "and one from another address too" grep -q '^127.0.0.1 HTTP/1.1_200_OK' "$T/idle.out"
ctl 1 stats --prometheus >"$T/ctl.prom"
check "the scrape is the full text (the same series as vnetctl stats --prometheus)" bash -c "
	[ -s '$T/body' ] &&
	diff <(grep -v '^#' '$T/body' | sed 's/ .*//' | sort) \
	     <(grep -v '^#' '$T/ctl.prom' | sed 's/ .*//' | sort)"
closed=$(sed -n 's/^closed //p' "$T/idle.out")
check "the oldest idle connections were evicted (${closed:-?} of 200 closed)" \
	[ "${closed:-0}" -ge $((200 - 12)) ]
ev=$(stat 1 counters.metrics_evicted)
check "evictions are counted (metrics_evicted $ev)" [ "${ev:-0}" -ge $((200 - 12)) ]
check "and exported" grep -q '^tunvnet_metrics_evicted_total{node="n1"} [1-9]' "$T/ctl.prom"

# ---- a NUL in the request head ----
if client nul >"$T/nul.out" 2>&1; then
	ok "requests with a NUL in their head are answered or closed at once"
else
	bad "a request with a NUL waited:"
fi
sed 's/^/    /' "$T/nul.out"

# ---- idle timeout ----
if dt=$(client timeout 2>&1); then
	ok "an idle connection is closed after metrics_timeout (3 s: ${dt} s)"
else
	bad "an idle connection was not closed after 3 s: $dt"
fi
status=$(client idle 0 "$T/body2" | sed -n 1p)
check "the endpoint still serves ($status)" grep -q '200_OK' <<<"$status"

finish
