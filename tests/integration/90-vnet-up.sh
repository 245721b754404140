#!/usr/bin/env bash
# vnet-up: passes the command's exit status (also 128+N for a signal, forwarded to it),
# its stdin and stdout; the job reaches another node's job; nothing is left afterwards;
# a namespace given with --netns (name or /proc path) is used and left in place; errors
# are clear, non-zero and leave nothing behind.
# shares: vnet-up (vnup-* namespaces and /run/tunvnet/vnet-up, counted and gc-ed machine-wide)
. "$(dirname "$0")/lib.sh"
need python3 ping unshare
S2=$(sock 2)

vnups() { ip netns list | grep -c '^vnup-'; }
# nothing_left VIP...: no vnup-* namespace, no job on n2, no route to VIP on any node
nothing_left() {
	local v k
	[ "$(vnups)" = 0 ] || return 1
	[ "$(ctl 2 --json jobs | jget 'len(d)')" = 0 ] || return 1
	for v in "$@"; do
		for k in 1 2; do
			ctl "$k" --json routes | grep -q "\"${v}[/\"]" && return 1
		done
	done
	return 0
}
in_pool2() { [[ $1 =~ ^198\.19\.2\.[0-9]+$ ]]; }

out=$("$VNETUP" --help)
rc=$?
[ $rc = 0 ] && grep -q SYNOPSIS <<<"$out" && ok "vnet-up --help: exit 0, a synopsis" ||
	bad "vnet-up --help: exit $rc"

cluster_up 2
job "$P-j1" 1 0
check "the cluster routes $P-j1" wait_jobs_routed 30

"$VNETUP" -s "$S2" -- true
rc=$?; [ $rc = 0 ] && ok "status 0 passed through" || bad "true: vnet-up exit $rc"
"$VNETUP" -s "$S2" -- sh -c 'exit 7'
rc=$?; [ $rc = 7 ] && ok "status 7 passed through" || bad "exit 7: vnet-up exit $rc"
"$VNETUP" -s "$S2" -- sh -c 'kill -KILL $$'
rc=$?; [ $rc = 137 ] && ok "killed by SIGKILL: status 137" || bad "SIGKILL: vnet-up exit $rc"
"$VNETUP" -s "$S2" -- no-such-command-tv 2>/dev/null
rc=$?; [ $rc = 127 ] && ok "missing command: status 127" || bad "missing command: vnet-up exit $rc"

out=$(printf 'abc\n' | "$VNETUP" -s "$S2" -- sh -c 'read x; echo "got $x"')
[ "$out" = "got abc" ] && ok "stdin and stdout pass through" || bad "stdin/stdout: got '$out'"

out=$("$VNETUP" -s "$S2" -- sh -c "ping -q -c 2 -i 0.2 -W 2 ${VIP4[$P-j1]} >/dev/null &&
	ip -o addr | grep -q \"inet \$TUNVNET_VIP/\" && echo \"\$TUNVNET_VIP\"")
rc=$?
if [ $rc = 0 ] && in_pool2 "$out"; then
	ok "pool VIP $out from n2 on the job's TUN; the job reaches $P-j1 on n1"
else
	bad "pool VIP job: exit $rc, output '$out'"
fi
check "after a run: no namespace, job or route left" wait_until 30 nothing_left "$out"

out=$("$VNETUP" -s "$S2" --vip 198.19.2.50 --vip fd00:19:2::50 -- sh -c \
	"ping -6 -q -c 2 -i 0.2 -W 2 ${VIP6[$P-j1]} >/dev/null && echo \"\$TUNVNET_VIPS\"")
[ "$out" = "198.19.2.50 fd00:19:2::50" ] && ok "--vip twice: both attached, IPv6 reaches $P-j1" ||
	bad "--vip twice: output '$out'"
check "after --vip twice: nothing left" wait_until 30 nothing_left 198.19.2.50 fd00:19:2::50

# SIGTERM is forwarded; the command's death by it is the status
"$VNETUP" -s "$S2" --vip 198.19.2.52 -- sh -c "echo started >$T/started; exec sleep 30" &
up=$!
if wait_until 30 test -s "$T/started"; then
	kill -TERM "$up"
	wait "$up"
	rc=$?
	[ $rc = 143 ] && ok "SIGTERM forwarded: status 143" || bad "SIGTERM: vnet-up exit $rc"
else
	kill -KILL "$up"; wait "$up"
	bad "vnet-up did not start its command within 30 s"
fi
check "after SIGTERM: nothing left" wait_until 30 nothing_left 198.19.2.52

# --netns NAME: used, and left in place
ip netns add "$P-j9" && JOBS+=("$P-j9")
out=$("$VNETUP" -s "$S2" --netns "$P-j9" --vip 198.19.2.51 -- ip -o -4 addr)
grep -q '198\.19\.2\.51/' <<<"$out" && ok "--netns "$P-j9": the command runs there with the VIP" ||
	bad "--netns "$P-j9": no VIP in '$out'"
check "--netns "$P-j9": namespace left in place" test -e "/run/netns/$P-j9"
check "--netns "$P-j9": VIP detached and withdrawn" wait_until 30 nothing_left 198.19.2.51
ip -n "$P-j9" -o addr | grep -q '198\.19\.2\.51/' && bad "--netns "$P-j9": address left in the namespace" ||
	ok "--netns "$P-j9": no address left in the namespace"

# --netns PATH of another process's namespace
spawn unshare -n sleep 60
holder=$!
# until it has unshared, /proc/PID/ns/net is still ours
unshared() { [ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)" ]; }
wait_until 30 unshared || bad "unshare -n did not make a namespace within 30 s"
out=$("$VNETUP" -s "$S2" --netns "/proc/$holder/ns/net" -- sh -c 'ip -o -4 addr; echo "vip=$TUNVNET_VIP"')
v=$(sed -n 's/^vip=//p' <<<"$out")
in_pool2 "$v" && grep -q "inet $v/" <<<"$out" && ok "--netns /proc/PID/ns/net: the command runs there with $v" ||
	bad "--netns /proc/PID/ns/net: '$out'"
check "--netns /proc/PID/ns/net: the process and its namespace remain" kill -0 "$holder"
# the node's own namespace is never a job's (a default route there would take over the node)
out=$(ctl 2 attach --netns "$P-n2" --vip 198.19.2.77 2>&1) &&
	bad "attach of the node's own namespace accepted" ||
	{ grep -q "own network namespace" <<<"$out" && ok "attach of the node's own namespace refused: $out" ||
	  bad "attach of the node's own namespace refused without saying why: $out"; }
ip -n "$P-n2" -o link show tv0 >/dev/null 2>&1 && bad "a TUN was made in the node's namespace" ||
	ok "no TUN in the node's namespace"
check "--netns /proc/PID/ns/net: VIP withdrawn" wait_until 30 nothing_left "$v"

# errors
out=$("$VNETUP" -s /run/tunvnet/no-such.sock -- true 2>&1)
rc=$?
[ $rc != 0 ] && grep -q 'no-such.sock' <<<"$out" && ok "daemon unreachable: exit $rc, names the socket" ||
	bad "daemon unreachable: exit $rc: $out"
check "daemon unreachable: no namespace left" test "$(vnups)" = 0
out=$("$VNETUP" -s "$S2" --vip 10.1.2.3 -- true 2>&1)
rc=$?
[ $rc != 0 ] && grep -q '10\.1\.2\.3' <<<"$out" && ok "VIP outside the pool: exit $rc, names it" ||
	bad "VIP outside the pool: exit $rc: $out"
out=$("$VNETUP" -s "$S2" --vip 198.19.2.60 --vip 198.19.2.999 -- true 2>&1)
rc=$?
[ $rc != 0 ] && grep -q '198\.19\.2\.999' <<<"$out" && ok "malformed VIP: exit $rc, names it" ||
	bad "malformed VIP: exit $rc: $out"
check "after the errors: nothing left (the first VIP detached again)" \
	wait_until 30 nothing_left 198.19.2.60 10.1.2.3
out=$("$VNETUP" -s "$S2" 2>&1)
rc=$?
[ $rc = 2 ] && ok "no command: usage error, exit 2" || bad "no command: exit $rc: $out"

finish
