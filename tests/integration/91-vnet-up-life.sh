#!/usr/bin/env bash
# vnet-up as a batch prolog: --user, --pid, signals (SIGINT, SIGHUP), and no leftovers
# after a normal exit, a failure, SIGTERM and SIGKILL of vnet-up itself followed by the
# clean-up path (`vnetctl gc`, and a later vnet-up run).
# shares: vnet-up (vnup-* namespaces and /run/tunvnet/vnet-up, counted and gc-ed machine-wide)
. "$(dirname "$0")/lib.sh"
need python3 ping unshare setpriv flock
S2=$(sock 2)
SD=/run/tunvnet/vnet-up

# nothing_left: no vnup-* namespace, no job on n2, no vnet-up record
nothing_left() {
	[ "$(ip netns list | grep -c '^vnup-')" = 0 ] || return 1
	[ "$(ctl 2 --json jobs | jget 'len(d)')" = 0 ] || return 1
	! ls "$SD"/*.state >/dev/null 2>&1
}

cluster_up 2
job "$P-j1" 1 0
check "the cluster routes $P-j1" wait_jobs_routed 10
"$VNETCTL" gc >/dev/null 2>&1   # records of earlier runs are not this test's business
check "nothing left before the test" nothing_left

# a batch prolog: the command's status, its stdout, and the job reaches another node
out=$("$VNETUP" -s "$S2" -- sh -c "ping -q -c 1 -W 2 ${VIP4[$P-j1]} >/dev/null && echo reached; exit 3")
rc=$?
[ $rc = 3 ] && [ "$out" = reached ] && ok "prolog: reaches n1's job, status 3 passed through" ||
	bad "prolog: exit $rc, output '$out'"
check "after a normal exit: nothing left" wait_until 3 nothing_left

# --user: the command runs as that user, the namespace work stayed root's
out=$("$VNETUP" -s "$S2" --user nobody -- sh -c 'echo "$(id -un) $USER $(ip -o -4 addr show dev tv0 | wc -l)"')
rc=$?
[ $rc = 0 ] && [ "$out" = "nobody nobody 1" ] && ok "--user nobody: runs as nobody, with its VIP" ||
	bad "--user nobody: exit $rc, output '$out'"
out=$("$VNETUP" -s "$S2" --user no-such-user-tv -- true 2>&1)
rc=$?
[ $rc = 125 ] && grep -q no-such-user-tv <<<"$out" && ok "--user unknown: exit 125, named" ||
	bad "--user unknown: exit $rc: $out"
check "after --user: nothing left" wait_until 3 nothing_left

# --pid: the namespace of a running process, left in place
spawn unshare -n sleep 60
holder=$!
unshared() { [ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)" ]; }
wait_until 5 unshared || bad "unshare -n did not make a namespace within 5 s"
out=$("$VNETUP" -s "$S2" --pid "$holder" -- sh -c 'echo "$TUNVNET_NETNS $(readlink /proc/self/ns/net)"')
want="/proc/$holder/ns/net $(readlink "/proc/$holder/ns/net")"
[ "$out" = "$want" ] && ok "--pid: the command runs in the process's namespace" ||
	bad "--pid: '$out', wanted '$want'"
check "--pid: the process lives on" kill -0 "$holder"
check "after --pid: nothing left" wait_until 3 nothing_left
out=$("$VNETUP" -s "$S2" --pid 999999999 -- true 2>&1)
rc=$?; [ $rc = 125 ] && ok "--pid of no process: exit 125" || bad "--pid 999999999: exit $rc: $out"
out=$("$VNETUP" -s "$S2" --pid "$holder" --netns x -- true 2>&1)
rc=$?; [ $rc = 2 ] && ok "--pid with --netns: usage error" || bad "--pid --netns: exit $rc"

# a failure after the namespace was made: nothing left
out=$("$VNETUP" -s "$S2" --vip 198.19.2.61 --vip 10.9.9.9 -- true 2>&1)
rc=$?; [ $rc = 125 ] && ok "refused VIP: exit 125" || bad "refused VIP: exit $rc: $out"
check "after a failure: nothing left" wait_until 3 nothing_left

# SIGINT and SIGHUP reach the command; its death by them is the status. (A background job
# of this script would start with SIGINT ignored, as no batch system starts it: env gives
# it back its default.)
for sig in INT HUP; do
	rm -f "$T/started"
	env --default-signal=INT "$VNETUP" -s "$S2" -- sh -c "echo started >$T/started; exec sleep 30" &
	up=$!
	if wait_until 10 test -s "$T/started"; then
		kill "-$sig" "$up"
		wait "$up"
		rc=$?
		want=$(( 128 + $(kill -l "$sig") ))
		[ $rc = "$want" ] && ok "SIG$sig forwarded: status $rc" || bad "SIG$sig: exit $rc, wanted $want"
	else
		kill -KILL "$up"; wait "$up"
		bad "vnet-up did not start its command within 10 s"
	fi
	check "after SIG$sig: nothing left" wait_until 3 nothing_left
done

# SIGKILL of vnet-up: the command gets SIGTERM, the record stays, gc cleans up
killed_run() {  # starts vnet-up with a long command, waits, SIGKILLs vnet-up; sets up, cmdpid
	rm -f "$T/cmdpid"
	"$VNETUP" -s "$S2" --vip "$1" -- sh -c "echo \$\$ >$T/cmdpid; exec sleep 60" &
	up=$!
	wait_until 10 test -s "$T/cmdpid" || { bad "command did not start"; return 1; }
	cmdpid=$(cat "$T/cmdpid")
	kill -KILL "$up"
	wait "$up" 2>/dev/null
	return 0
}
gone() { ! kill -0 "$1" 2>/dev/null; }
if killed_run 198.19.2.62; then
	check "SIGKILL of vnet-up: the command is sent SIGTERM" wait_until 5 gone "$cmdpid"
	check "SIGKILL of vnet-up: its record is left" test -e "$SD/$up.state"
	check "SIGKILL of vnet-up: its namespace is left (for gc)" test -e "/run/netns/vnup-$up"
	out=$("$VNETCTL" gc 2>&1)
	rc=$?
	[ $rc = 0 ] && grep -q "vnet-up $up: detached 198.19.2.62, deleted namespace vnup-$up" <<<"$out" &&
		ok "vnetctl gc: $out" || bad "vnetctl gc: exit $rc: $out"
	check "after SIGKILL and gc: nothing left" wait_until 3 nothing_left
	routed() { ctl 1 --json routes | grep -q '"198.19.2.62'; }
	check "after gc: the VIP is withdrawn on n1" wait_until 5 eval '! routed'
fi
out=$("$VNETCTL" gc)
rc=$?; [ $rc = 0 ] && [ -z "$out" ] && ok "gc again: nothing to do" || bad "gc again: exit $rc: $out"

# a later vnet-up run cleans up after a killed one
if killed_run 198.19.2.63; then
	"$VNETUP" -s "$S2" -- true
	check "a later vnet-up removed the killed one's namespace and VIP" wait_until 3 nothing_left
fi

# a live vnet-up's record is left alone by gc
rm -f "$T/started"
"$VNETUP" -s "$S2" -- sh -c "echo started >$T/started; exec sleep 30" &
up=$!
if wait_until 10 test -s "$T/started"; then
	"$VNETCTL" gc >/dev/null
	check "gc leaves a running vnet-up's record" test -e "$SD/$up.state"
	check "gc leaves a running vnet-up's namespace" test -e "/run/netns/vnup-$up"
	kill -TERM "$up"; wait "$up"
fi
check "at the end: nothing left" wait_until 3 nothing_left

finish
