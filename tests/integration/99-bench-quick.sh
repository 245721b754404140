#!/usr/bin/env bash
# `make bench QUICK=1`: every path (veth, VXLAN, OpenVPN, tunvnet) runs every workload,
# the table is printed and bench/results.json holds every figure of every path and the
# ratios. The figures themselves are never judged: no test fails on a timing.
# timeout: 300
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

need python3
out=$T/results.json

# With daemons from elsewhere (TUNVNETD set, e.g. beside another cluster), `make` would
# rebuild the top-level programs: run the bench script itself then, as make bench does.
if [ "$TUNVNETD" = "$ROOT/tunvnetd" ]; then
	BENCH_OUT=$out timeout 240 make --no-print-directory bench QUICK=1 >"$T/bench.log" 2>&1
else
	scripts/deps.sh bench >"$T/bench.log" 2>&1 &&
		BENCH_OUT=$out QUICK=1 timeout 240 scripts/bench >>"$T/bench.log" 2>&1
fi
rc=$?
if [ "$rc" = 0 ]; then
	ok "make bench QUICK=1 ran every workload"
else
	sed 's/^/    /' "$T/bench.log" | tail -n 30
	bad "make bench QUICK=1 exited $rc"
fi
sed -n '/^path /,/^wrote /p' "$T/bench.log" | sed 's/^/    /'

# The printed table: a row per path and per ratio, each with every figure a positive
# number, and the row saying which way each figure is better.
table='
import re, sys
paths = ["veth", "vxlan", "openvpn", "tunvnet-tcp", "tunvnet-tcp-none"]
rows = paths + [t + "/" + b + " x" for t in ("tunvnet-tcp", "tunvnet-tcp-none")
                for b in ("veth", "openvpn")]
lines = open(sys.argv[1]).read().split("\n")
try:
    head = next(i for i, l in enumerate(lines) if l.startswith("path "))
except StopIteration:
    print("bad the table has no header line")
    sys.exit()
body = lines[head + 1:]
better = [l for l in body if l.startswith("  better is")]
if better and better[0].split()[2:] and \
        all(w in ("higher", "lower") for w in better[0].split()[2:]) and \
        len(better[0].split()[2:]) == 7:
    print("ok the table says for each of the 7 figures whether higher or lower is better")
else:
    print("bad no \"better is\" row with 7 higher/lower words: %r" % (better[:1],))
for name in rows:
    got = [l for l in body if l.startswith(name + " ") or l.startswith(name + "\t")]
    if len(got) != 1:
        print("bad the table has %d rows for %s" % (len(got), name))
        continue
    vals = got[0][len(name):].split()
    try:
        nums = [float(v) for v in vals]
    except ValueError:
        nums = []
    if len(vals) == 7 and len(nums) == 7 and all(v > 0 for v in nums):
        print("ok table row %s: 7 positive figures %s" % (name, " ".join(vals)))
    else:
        print("bad table row %s: %r (want 7 positive numbers)" % (name, vals))
'
while read -r verdict what; do
	if [ "$verdict" = ok ]; then ok "$what"; else bad "$what"; fi
done < <(python3 -c "$table" "$T/bench.log")

# Every path with every figure (and its min and max) a positive number, min <= median <=
# max; both ratio objects, oriented (above 1: tunvnet better); which way each figure is better.
verify='
import json, sys
figs = ["tcp1_gbps", "tcp4_gbps", "udp64_kpps", "rr_p50_us", "rr_p99_us", "ping_ms",
        "cpu_s_per_gb"]
lower = {"rr_p50_us", "rr_p99_us", "ping_ms", "cpu_s_per_gb"}
def pos(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print(f"bad results.json unreadable: {e}")
    sys.exit()
if not isinstance(d, list):
    print("bad results.json is not an array")
    sys.exit()
by = {o.get("name"): o for o in d if isinstance(o, dict)}
for name in ["veth", "vxlan", "openvpn", "tunvnet-tcp", "tunvnet-tcp-none"]:
    o = by.get(name)
    if o is None:
        print(f"bad results.json has no {name} object")
        continue
    lack = [k for f in figs for k in (f, f + "_min", f + "_max") if not pos(o.get(k))]
    order = [f for f in figs if not lack and not o[f + "_min"] <= o[f] <= o[f + "_max"]]
    if lack or order:
        print(f"bad {name}: not a positive number: {lack}; min/median/max out of order: {order}")
    else:
        print(f"ok {name} has every figure, a positive number, with its spread")
for tv, base in [(t, b) for t in ("tunvnet-tcp", "tunvnet-tcp-none") for b in ("veth", "openvpn")]:
    name = tv + "/" + base
    o = by.get(name) or {}
    lack = [f for f in figs if not pos(o.get(f))]
    t, b = by.get(tv, {}), by.get(base, {})
    # recomputed from the rows: above 1 means tunvnet is better
    wrong = [f for f in figs if not lack and pos(t.get(f)) and pos(b.get(f)) and
             abs(o[f] - (b[f] / t[f] if f in lower else t[f] / b[f])) > 1e-6 * o[f]]
    bt = o.get("better")
    if lack or wrong or bt != "above 1":
        print(f"bad ratio {name}: missing {lack}, not oriented {wrong}, better {bt!r}")
    else:
        print(f"ok ratio {name} has every figure, oriented so that above 1 is tunvnet better")
b = by.get("better") or {}
if all(b.get(f) == ("lower" if f in lower else "higher") for f in figs):
    print("ok results.json says which way each figure is better")
else:
    print(f"bad results.json better object: {b}")
'
while read -r verdict what; do
	if [ "$verdict" = ok ]; then ok "$what"; else bad "$what"; fi
done < <(python3 -c "$verify" "$out")

left=$(ip netns list 2>/dev/null | awk '{print $1}' |
	grep -E "^$P-(va|vb|xa|xb|oa|ob|j[0-9s].*|n[0-9]+|ul)$" | tr '\n' ' ')
check "the bench left no namespace behind${left:+ (left: $left)}" test -z "$left"
finish
