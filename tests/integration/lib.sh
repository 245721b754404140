# shellcheck shell=bash
# Shared helpers of the integration tests. Each test is a small bash file, run as root from
# the repository root, that sources this file, prints "ok ..." / "FAIL ..." lines and ends
# with `finish` ("N passed, N failed"). The cluster it brings up, the job namespaces it
# makes (named $P-j*, P below) and the background processes it starts are removed on
# every exit.
#
# Tests run in parallel (scripts/run-tests -j), each with its own VNET_CLUSTER_NAME (P).
# A test stays parallel-safe when everything it makes outside its own namespaces is
# named after $P or lives in $T: namespaces $P-* (jobs $P-j*, other hosts $P-x*), sockets
# and files under /run/tunvnet via sock/CDIR or named $P-*, container ids, CNI data,
# state dirs and scratch files in $T; no fixed name in the root namespace, no
# machine-wide count or clean-up (e.g. of every vnup-* namespace). It never waits a
# fixed time for something it can poll (wait_until, listening), and its limits are
# generous: another test, or two CPU hogs, may run beside it. A test that cannot be
# so says why in a '# exclusive: WHY' line (it then runs alone, with P = tv); tests that
# share one machine-wide thing say '# shares: WORD' (never two at once): 'vnet-up' (vnup-*
# namespaces, vnet-up's records, vnetctl gc), 'migrate' (job moves under full-rate
# streams, which starve each other).
# To look into a failure: TUNVNETD_ARGS=-v (debug logs) and VNET_TEST_LOGS=DIR (a failed
# test's node logs are copied to DIR/TEST/ before the cluster goes).
set -u

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
cd "$ROOT" || exit 1
TUNVNETD=${TUNVNETD:-$ROOT/tunvnetd}
VNETCTL=${VNETCTL:-$ROOT/vnetctl}
export TUNVNETD VNETCTL
CLUSTER=$ROOT/scripts/vnet-cluster
# shellcheck disable=SC2034  # used by the tests
VNETUP=$ROOT/scripts/vnet-up
# The cluster's state directory, as scripts/vnet-cluster names it (see P below).
if [ "${VNET_CLUSTER_NAME:-tv}" = tv ]; then CDIR=/run/tunvnet/cluster
else CDIR=/run/tunvnet/$VNET_CLUSTER_NAME-cluster; fi
TEST=$(basename "$0" .sh)

pass=0
failed=0
NODES=0
JOBS=()          # job namespaces made by this test
BGPIDS=()        # background processes started by this test
declare -A VIP4 VIP6 NODE_OF
T=$(mktemp -d "/tmp/tv-$TEST.XXXXXX")

ok()   { pass=$((pass + 1)); echo "ok   $TEST: $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL $TEST: $*"; }
info() { echo "info $TEST: $*"; }

# check DESCRIPTION CMD...: ok when CMD succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

# q CMD...: CMD with its output discarded (for check: `check "x" q ping ...`).
q() { "$@" >/dev/null 2>&1; }

# The last line of every test.
finish() {
	echo "$pass passed, $failed failed"
	[ "$failed" = 0 ] && exit 0
	exit 1
}

# Gives up early: the reason counts as one failure.
abort() {
	bad "$*"
	finish
}

need() {
	[ "$(id -u)" = 0 ] || abort "must run as root"
	[ -x "$TUNVNETD" ] && [ -x "$VNETCTL" ] || abort "tunvnetd / vnetctl not built (run make)"
	local c
	for c in "$@"; do command -v "$c" >/dev/null || abort "$c is not installed"; done
}

cleanup() {
	local p j k
	for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BGPIDS[@]}"; do wait "$p" 2>/dev/null; done
	# What still runs inside a job namespace of this test (a spawned shell function's
	# children outlive the shell killed above): by PID, then the namespace.
	for j in "${JOBS[@]}"; do
		# shellcheck disable=SC2046
		kill $(ip netns pids "$j" 2>/dev/null) 2>/dev/null
		ip netns del "$j" 2>/dev/null
	done
	if [ "${failed:-0}" != 0 ] && [ -n "${VNET_TEST_LOGS:-}" ] && [ -d "$CDIR" ]; then
		k="$VNET_TEST_LOGS/$(basename "$0" .sh)"
		mkdir -p "$k" && cp "$CDIR"/*.log "$k/" 2>/dev/null
	fi
	[ "$NODES" != 0 ] && timeout 60 "$CLUSTER" down >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# spawn CMD...: starts CMD in the background, remembered for cleanup; $! is its PID.
spawn() {
	"$@" &
	BGPIDS+=($!)
}

# VNET_CLUSTER_NAME (default tv) names the cluster (see scripts/vnet-cluster): tests that
# must run beside another cluster use it, and name their job namespaces $P-j*.
P=${VNET_CLUSTER_NAME:-tv}
export VNET_CLUSTER_NAME=$P
sock() { echo "/run/tunvnet/$P-n$1.sock"; }

# ctl K ARGS...: vnetctl against node K.
ctl() {
	local k=$1
	shift
	timeout 10 "$VNETCTL" -s "$(sock "$k")" "$@"
}

# jget EXPR: evaluates a Python expression over the JSON on stdin (as d) and prints it.
jget() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

# stat K counters.NAME | drops.NAME: one counter of node K (empty if unreadable).
stat() {
	local sect=${2%%.*} name=${2#*.}
	ctl "$1" --json stats 2>/dev/null | jget "d[\"$sect\"][\"$name\"]" 2>/dev/null
}

daemon_pid() { cat "$CDIR/n$1.pid" 2>/dev/null; }

now_us() { local t=${EPOCHREALTIME//[.,]/}; echo $((10#$t)); }

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds, for at most SECONDS
# (a decimal number).
wait_until() {
	local end
	end=$(( $(now_us) + $(awk -v t="$1" 'BEGIN { printf "%d", t * 1000000 }') ))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_us)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# listening NS PORT [udp]: a socket in namespace NS listens on TCP PORT (or is bound to
# UDP PORT): what a client waits for before it connects, instead of sleeping.
listening() {
	local f=-Hltn
	[ "${3:-}" = udp ] && f=-Hlun
	[ -n "$(ip netns exec "$1" ss "$f" "sport = :$2" 2>/dev/null)" ]
}

# captures_started K: how many captures node K's daemon has started (its log says so); a
# capture whose output nobody reads yet shows nothing else
captures_started() {
	local n
	n=$(grep -c 'capture started' "$CDIR/n$1.log" 2>/dev/null)
	echo "${n:-0}"
}

# cluster_up N: a fresh cluster of N nodes, removed when the test exits.
cluster_up() {
	timeout 60 "$CLUSTER" down >/dev/null 2>&1
	NODES=$1
	if timeout 90 "$CLUSTER" up "$1" >"$T/up.log" 2>&1; then
		ok "cluster of $1 up and meshed"
	else
		sed 's/^/    /' "$T/up.log"
		abort "cluster of $1 did not come up"
	fi
}

vip4() { echo "198.19.$1.$((10 + $2))"; }
vip6() { echo "fd00:19:$1::$((10 + $2))"; }

# job NS K I: job namespace NS ($P-j*) attached to node K with VIPs 198.19.K.(10+I) and
# fd00:19:K::(10+I), remembered in VIP4[NS], VIP6[NS], NODE_OF[NS].
job() {
	local ns=$1 k=$2 i=$3 out
	[[ $ns == "$P"-j* ]] || abort "job namespace $ns must be named $P-j*"
	ip netns add "$ns" || abort "ip netns add $ns"
	JOBS+=("$ns")
	ip -n "$ns" link set lo up
	VIP4[$ns]=$(vip4 "$k" "$i")
	VIP6[$ns]=$(vip6 "$k" "$i")
	NODE_OF[$ns]=$k
	if out=$(ctl "$k" attach --netns "$ns" --vip "${VIP4[$ns]}" 2>&1) &&
	   out=$(ctl "$k" attach --netns "$ns" --vip "${VIP6[$ns]}" 2>&1); then
		return 0
	fi
	bad "attach $ns to n$k: $out"
	return 1
}

jx() {  # jx NS CMD...: runs CMD in job namespace NS
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# routes_ok VIP K: every node of the cluster routes VIP to node nK.
routes_ok() {
	local vip=$1 want=$2 k
	for k in $(seq "$NODES"); do
		ctl "$k" --json routes 2>/dev/null | python3 -c 'import json, sys
r = json.load(sys.stdin); v, n = sys.argv[1], sys.argv[2]
sys.exit(0 if any(isinstance(e, dict) and str(e.get("vip", "")).split("/")[0] == v and
                  str(e.get("node", "")) in (n, "n" + n) for e in r) else 1)' "$vip" "$want" \
			2>/dev/null || return 1
	done
}

# wait_jobs_routed [SECONDS]: waits until every node routes every job VIP (default 10 s).
wait_jobs_routed() {
	local j all=()
	for j in "${JOBS[@]}"; do
		[ -n "${VIP4[$j]:-}" ] && all+=("${VIP4[$j]} ${NODE_OF[$j]}" "${VIP6[$j]} ${NODE_OF[$j]}")
	done
	_all_routed() {
		local e
		for e in "${all[@]}"; do
			# shellcheck disable=SC2086
			routes_ok $e || return 1
		done
	}
	wait_until "${1:-10}" _all_routed
}

# peer_up K NODE: node K lists NODE (e.g. n3) as "up".
peer_up() {
	ctl "$1" --json peers 2>/dev/null | python3 -c 'import json, sys
sys.exit(0 if any(e.get("node") == sys.argv[1] and e.get("state") == "up"
                  for e in json.load(sys.stdin)) else 1)' "$2" 2>/dev/null
}

# peer_known K NODE: node K lists NODE as "up", or as "idle" (links on demand: known from
# the route store, no link needed now).
peer_known() {
	ctl "$1" --json peers 2>/dev/null | python3 -c 'import json, sys
sys.exit(0 if any(e.get("node") == sys.argv[1] and e.get("state") in ("up", "idle")
                  for e in json.load(sys.stdin)) else 1)' "$2" 2>/dev/null
}

# all_meshed: every node lists every other as "up" (or "idle", with links on demand: the
# same test as scripts/vnet-cluster's).
all_meshed() {
	local a b
	for a in $(seq "$NODES"); do
		for b in $(seq "$NODES"); do
			[ "$a" = "$b" ] || peer_known "$a" "n$b" || return 1
		done
	done
}

# outsider NS ADDR: a host on the underlay, not a node: namespace NS with eth0 = ADDR/24 on
# the cluster's bridge (its veth end there is named after the address' last byte). It is
# deleted (with its veth) when the test exits.
outsider() {
	local ns=$1 addr=$2 v="vx${2##*.}"
	ip netns add "$ns" || abort "ip netns add $ns"
	JOBS+=("$ns")
	ip -n "$ns" link set lo up &&
	ip -n "$ns" link add eth0 type veth peer name "$v" netns "$P-ul" &&
	ip -n "$ns" addr add "$addr/24" dev eth0 &&
	ip -n "$ns" link set eth0 up &&
	ip -n "$P-ul" link set "$v" master br0 &&
	ip -n "$P-ul" link set "$v" up || abort "cannot attach outsider $ns ($addr) to the underlay"
}

# sever K ADDR: node K has no route to ADDR on the underlay (an "unreachable" route in its
# namespace): it neither dials ADDR nor answers it, so nK and the host at ADDR meet only
# through a relay or proxy. Gone with the node's namespace.
sever() {
	ip -n "$P-n$1" route add unreachable "$2/32" || abort "cannot cut n$1 from $2"
}

# pcount K NAME: one of node K's peer-layer counters (peer_counters_json: refused_hello,
# rejected_frames, pending_limited, ...) from `stats --json`, wherever it is exposed
# (peers.NAME or peer_layer.NAME); empty when the daemon does not expose it.
pcount() {
	ctl "$1" --json stats 2>/dev/null | python3 -c 'import json, sys
d, n = json.load(sys.stdin), sys.argv[1]
for sect in ("peers", "peer_layer", "peer"):
    v = d.get(sect, {}).get(n) if isinstance(d.get(sect), dict) else None
    if isinstance(v, int) and not isinstance(v, bool):
        print(v)
        break' "$2" 2>/dev/null
}

# peers_up K: the names node K lists as "up", one per line.
peers_up() {
	ctl "$1" --json peers 2>/dev/null | python3 -c 'import json, sys
for e in json.load(sys.stdin):
    if e.get("state") == "up":
        print(e.get("node"))' 2>/dev/null
}

# peer_field K NODE EXPR: EXPR over node K's `peers --json` entry for NODE (as e).
peer_field() {
	ctl "$1" --json peers 2>/dev/null | python3 -c 'import json, sys
for e in json.load(sys.stdin):
    if e.get("node") == sys.argv[1]:
        v = eval(sys.argv[2])
        print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$2" "$3" 2>/dev/null
}
