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

check "the table has a row per path and the ratios" \
	grep -q '^tunvnet-tcp/openvpn x' "$T/bench.log"

# Every path with every figure (and its min and max) as a number; both ratio objects.
verify='
import json, sys
figs = ["tcp1_gbps", "tcp4_gbps", "udp64_kpps", "rr_p50_us", "rr_p99_us", "ping_ms",
        "cpu_s_per_gb"]
def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print(f"bad results.json unreadable: {e}")
    sys.exit()
if not isinstance(d, list):
    print("bad results.json is not an array")
    sys.exit()
by = {o.get("name"): o for o in d if isinstance(o, dict)}
for name in ["veth", "vxlan", "openvpn", "tunvnet-tcp"]:
    o = by.get(name)
    if o is None:
        print(f"bad results.json has no {name} object")
        continue
    lack = [k for f in figs for k in (f, f + "_min", f + "_max") if not num(o.get(k))]
    print(f"bad {name} lacks {lack}" if lack else f"ok {name} has every figure with its spread")
for name in ["tunvnet-tcp/veth", "tunvnet-tcp/openvpn"]:
    o = by.get(name) or {}
    lack = [f for f in figs if not num(o.get(f))]
    print(f"bad ratio {name} lacks {lack}" if lack else f"ok ratio {name} has every figure")
'
while read -r verdict what; do
	if [ "$verdict" = ok ]; then ok "$what"; else bad "$what"; fi
done < <(python3 -c "$verify" "$out")

left=$(ip netns list 2>/dev/null | awk '{print $1}' |
	grep -E "^$P-(va|vb|xa|xb|oa|ob|j[0-9s].*|n[0-9]+|ul)$" | tr '\n' ' ')
check "the bench left no namespace behind${left:+ (left: $left)}" test -z "$left"
finish
