#!/usr/bin/env bash
# Observability: the event ring (vnetctl events, -f), counters per job, peer and
# substrate (vnetctl stats --json), and the Prometheus text from `vnetctl stats
# --prometheus` and from the daemon's metrics_listen endpoint, both checked against the
# exposition format's grammar (and by promtool when it is installed).
# timeout: 180
. "$(dirname "$0")/lib.sh"
need python3

export VNET_METRICS_PORT=9100
cluster_up 2
J1=$P-j1
J2=$P-j2

# events_has K PYEXPR: node K's event list has an event e for which PYEXPR holds.
events_has() {
	ctl "$1" --json events 2>/dev/null | python3 -c 'import json, sys
sys.exit(0 if any(eval(sys.argv[1]) for e in json.load(sys.stdin)) else 1)' "$2"
}

# ---- events ----
spawn timeout -k 2 60 "$VNETCTL" -s "$(sock 1)" --json events -f >"$T/follow.txt" 2>"$T/follow.err"
follower=$!
# following once vnetctl (timeout's child: found by its parent's PID) holds a connected
# unix socket, the control connection (its request goes out right after the connect)
following() {
	local c
	c=$(pgrep -P "$follower") && ss -Hxp state connected 2>/dev/null | grep -q "pid=$c,"
}
wait_until 30 following || bad "events -f did not connect"
check "n1 recorded n2 coming up" events_has 1 'e["type"] == "peer_up" and e["node"] == "n2"'
job "$J1" 1 0
job "$J2" 2 0
check "both nodes route both jobs" wait_jobs_routed 30
B=${VIP4[$J2]}
check "n1 recorded the route of $B to n2" events_has 1 \
	"e['type'] == 'route_change' and e['vip'] == '$B' and e['new_node'] == 'n2' and \
	 e['new_epoch'] >= 1 and e['old_node'] == ''"
check "events have a time stamp" events_has 1 \
	'isinstance(e["ts"], float) and abs(e["ts"] - __import__("time").time()) < 60'
# traffic to a VIP nobody hosts: drops, aggregated into one event per second
# job_no_route: the no_route drops n1 counts for the job $J1
job_no_route() { ctl 1 --json stats | jget "d['jobs']['$J1']['drops']['no_route']"; }
nr0=$(stat 1 drops.no_route)
jnr0=$(job_no_route)
[[ $nr0 =~ ^[0-9]+$ && $jnr0 =~ ^[0-9]+$ ]] ||
	abort "stats --json on n1 lacks drops.no_route or the job's ('$nr0', '$jnr0')"
jx "$J1" ping -c 5 -i 0.05 -W 1 -q 198.19.1.99 >/dev/null 2>&1
nr1=$(stat 1 drops.no_route)
check "the 5 no_route drops are counted ($nr0 -> $nr1)" [ "$nr1" = $((nr0 + 5)) ]
if wait_until 30 events_has 1 'e["type"] == "drop" and e["reason"] == "no_route"'; then
	ok "drops show up as events"
else
	bad "no drop event: $(ctl 1 events | tail -5)"
fi
# drop_sum: the counts of n1's no_route drop events added up
drop_sum() {
	ctl 1 --json events | jget \
		'sum(e["count"] for e in d if e["type"] == "drop" and e["reason"] == "no_route")'
}
# the burst's later drops come out as one event once its second is over
drops_agree() { [ "$(drop_sum)" = "$(stat 1 drops.no_route)" ]; }
check "the drop events add up to the counter" wait_until 30 drops_agree

n=$(ctl 1 --json events | jget 'len([e for e in d if e["type"] == "drop"])')
check "5 drops in a burst make at most 2 events ($n)" [ "${n:-9}" -le 2 ]
# a follower got the same events live, one JSON object per line
if wait_until 30 grep -q '"new_node": *"n2"' "$T/follow.txt"; then
	ok "events -f printed the route change as it happened"
else
	bad "events -f: $(head -c 300 "$T/follow.txt") $(cat "$T/follow.err")"
fi
check "events -f lines are JSON objects" python3 -c 'import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines and all(isinstance(json.loads(l), dict) for l in lines)' "$T/follow.txt"
check "events -f still follows" kill -0 "$follower"
kill "$follower" 2>/dev/null
# exited: no such process, or a zombie not yet reaped by wait
gone() { [ ! -r "/proc/$follower/stat" ] || [ "$(awk '{print $3}' "/proc/$follower/stat" 2>/dev/null)" = Z ]; }
check "events -f exits on SIGTERM" wait_until 30 gone
wait "$follower" 2>/dev/null  # bounded: timeout -k kills a follower that would not go
check "vnetctl events prints a table" q ctl 1 events

# ---- counters per job, peer and substrate ----
jx "$J1" ping -c 20 -i 0.02 -q "$B" >/dev/null
ctl 1 --json stats >"$T/stats.json"
check "stats: the job's counters (sent 20 pings; 5 no_route drops)" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
j = d["jobs"][sys.argv[2]]
assert j["rx_packets"] >= 20 and j["tx_packets"] >= 20, j
assert j["rx_bytes"] >= 20 * 84 and isinstance(j["drops"], dict), j
assert j["drops"]["no_route"] == int(sys.argv[3]), j' "$T/stats.json" "$J1" $((jnr0 + 5))
check "stats: the peer's counters" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
p = d["peers"]["n2"]
assert p["tx_packets"] >= 20 and p["rx_packets"] >= 20 and p["tx_bytes"] >= 20 * 84, p
assert "queue_full" in p["drops"], p' "$T/stats.json"
check "stats: the substrate's counters sum its peers'" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
s = d["substrates"]["tcp"]
assert s["tx_packets"] == sum(p["tx_packets"] for p in d["peers"].values()), s
assert s["peers_up"] == 1 and s["rx_bytes"] >= 20 * 84, s' "$T/stats.json"

# ---- Prometheus exposition format ----
cat >"$T/promcheck.py" <<'EOF'
# Checks text against the Prometheus text exposition format 0.0.4: line grammar, names,
# label escapes, values, one HELP and TYPE per family given before its samples, a
# family's samples together; and that every family has HELP and TYPE.
import re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVAL = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABELS = r"\{(?:\s*%s\s*=\s*%s\s*(?:,\s*%s\s*=\s*%s\s*)*,?)?\s*\}" % (LNAME, LVAL, LNAME, LVAL)
VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)"
SAMPLE = re.compile(r"^(%s)(%s)?[ \t]+(%s)(?:[ \t]+-?\d+)?$" % (NAME, LABELS, VALUE))
HELP = re.compile(r"^#[ \t]+HELP[ \t]+(%s)(?:[ \t]+(.*))?$" % NAME)
TYPE = re.compile(r"^#[ \t]+TYPE[ \t]+(%s)[ \t]+(counter|gauge|histogram|summary|untyped)$"
                  % NAME)

def family(name, types):
    for suf in ("_bucket", "_count", "_sum"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return name

def check(text):
    errs, helps, types, seen, done, cur = [], {}, {}, set(), set(), None
    if not text.endswith("\n"):
        errs.append("does not end in a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        m = HELP.match(line)
        if m:
            if m.group(1) in helps:
                errs.append("%d: second HELP for %s" % (n, m.group(1)))
            if "\\" in (m.group(2) or "") and re.search(r"\\[^\\n]", m.group(2)):
                errs.append("%d: bad escape in HELP" % n)
            helps[m.group(1)] = n
            continue
        m = TYPE.match(line)
        if m:
            if m.group(1) in types:
                errs.append("%d: second TYPE for %s" % (n, m.group(1)))
            if m.group(1) in seen:
                errs.append("%d: TYPE for %s after its samples" % (n, m.group(1)))
            types[m.group(1)] = m.group(2)
            continue
        if line.startswith("#"):
            if re.match(r"^#[ \t]+(HELP|TYPE)\b", line):
                errs.append("%d: malformed %s" % (n, line))
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append("%d: not a sample: %r" % (n, line))
            continue
        fam = family(m.group(1), types)
        if fam != cur and fam in done:
            errs.append("%d: samples of %s are not together" % (n, fam))
        if cur is not None and fam != cur:
            done.add(cur)
        cur = fam
        seen.add(fam)
        if types.get(fam) == "counter" and float(m.group(3)) < 0:
            errs.append("%d: negative counter" % n)
        labels = re.findall(r"(%s)\s*=" % LNAME, m.group(2) or "")
        if len(labels) != len(set(labels)):
            errs.append("%d: a label twice" % n)
    for fam in seen:
        if fam not in types:
            errs.append("%s has no TYPE" % fam)
        if fam not in helps:
            errs.append("%s has no HELP" % fam)
    if not seen:
        errs.append("no samples")
    return errs, len(seen)

text = open(sys.argv[1]).read()
errs, fams = check(text)
for e in errs[:20]:
    print("  " + e)
if not errs:
    print("%d metric families" % fams)
sys.exit(1 if errs else 0)
EOF
# the validator itself rejects what it should
printf '# TYPE x counter\nx{a="1} 3\n' >"$T/bad1.prom"
printf 'x 1\n# TYPE x counter\n' >"$T/bad2.prom"
printf '# HELP x X.\n# TYPE x counter\nx{a="1"} 1\ny 2\nx{a="2"} 1\n' >"$T/bad3.prom"
check "the format checker refuses broken texts" sh -c "
	! python3 '$T/promcheck.py' '$T/bad1.prom' >/dev/null &&
	! python3 '$T/promcheck.py' '$T/bad2.prom' >/dev/null &&
	! python3 '$T/promcheck.py' '$T/bad3.prom' >/dev/null"

ctl 1 stats --prometheus >"$T/ctl.prom" 2>"$T/ctl.err"
if out=$(python3 "$T/promcheck.py" "$T/ctl.prom"); then
	ok "vnetctl stats --prometheus parses as the exposition format ($out)"
else
	bad "vnetctl stats --prometheus: $out $(head -c 300 "$T/ctl.err")"
fi
check "--prometheus has the job, peer and drop series" sh -c "
	grep -q 'job=\"$J1\"' '$T/ctl.prom' && grep -q 'peer=\"n2\"' '$T/ctl.prom' &&
	grep -q 'reason=\"no_route\"' '$T/ctl.prom'"

# http PATH [PAD]: GET PATH from n1's endpoint (with PAD bytes of header, unterminated, when
# given); the head into $T/hdr, the body into $T/body.
http() {
	ip netns exec "$P-n1" python3 -c 'import socket, sys
s = socket.create_connection(("198.18.0.1", int(sys.argv[1])), timeout=5)
pad = int(sys.argv[3])
if pad:
    s.sendall(b"GET " + sys.argv[2].encode() + b" HTTP/1.0\r\nX-Pad: " + b"a" * pad)
else:
    s.sendall(b"GET " + sys.argv[2].encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    k = s.recv(65536)
    if not k:
        break
    data += k
head, _, body = data.partition(b"\r\n\r\n")
open(sys.argv[4] + "/hdr", "wb").write(head + b"\n")
open(sys.argv[4] + "/body", "wb").write(body)' "$VNET_METRICS_PORT" "$1" "${2:-0}" "$T"
}
code() { head -1 "$T/hdr" | cut -d' ' -f2; }

http /metrics
cp "$T/body" "$T/http.prom"
check "GET /metrics answers 200 with the exposition content type" sh -c "
	head -1 '$T/hdr' | grep -q ' 200 ' &&
	grep -qi '^content-type: text/plain; version=0.0.4' '$T/hdr'"
if out=$(python3 "$T/promcheck.py" "$T/http.prom"); then
	ok "/metrics parses as the exposition format ($out)"
else
	bad "/metrics: $out"
fi
check "/metrics and --prometheus list the same series" bash -c "
	diff <(grep -v '^#' '$T/http.prom' | sed 's/ .*//' | sort) \
	     <(grep -v '^#' '$T/ctl.prom' | sed 's/ .*//' | sort) >/dev/null"
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts /metrics" \
		q sh -c "promtool check metrics <'$T/http.prom'"
fi
http /nothing
check "other paths get 404 ($(code))" [ "$(code)" = 404 ]
# a request head beyond the limit gets an error, and the endpoint still serves others
http /metrics 8000
check "an oversized request gets 431 ($(code))" [ "$(code)" = 431 ]
http /metrics
check "and /metrics still answers ($(code))" [ "$(code)" = 200 ]

finish
