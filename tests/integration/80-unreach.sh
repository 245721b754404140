#!/usr/bin/env bash
# A ping to a VIP of the cluster's range that nobody hosts is answered at once with an
# ICMP / ICMPv6 destination unreachable from the job's node, not left to time out; the
# node counts what it sent in counters.icmp_unreach_sent.
. "$(dirname "$0")/lib.sh"
need ping

cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 2 0
check "both nodes route both jobs" wait_jobs_routed 30

u0=$(stat 1 counters.icmp_unreach_sent)
[[ $u0 =~ ^[0-9]+$ ]] || abort "stats --json on n1 lacks counters.icmp_unreach_sent"

sent=0
# unhosted: in n2's pool, in n1's own pool, and elsewhere in the range
for dst in 198.19.2.99 fd00:19:2::99 198.19.1.99 fd00:19:1::99 198.19.200.1; do
	t0=$EPOCHREALTIME
	out=$(jx "$P-j1" ping -c 1 -W 5 "$dst" 2>&1)
	rc=$?
	dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	sent=$((sent + 1))
	# The daemon's ICMP error comes from the unreachable VIP itself ("From DST icmp_seq=1
	# Destination Host Unreachable" / "... Destination unreachable: Address unreachable");
	# the kernel's own "Network is unreachable" (no route in the job) does not count.
	# An answer, not ping's own 5 s limit running out (the time is printed, not judged).
	if [ $rc != 0 ] && grep -qE "^From $dst icmp_seq=1 Destination (Host Unreachable|unreachable)" <<<"$out"; then
		ok "ping $dst: $(grep -E -m1 'Destination' <<<"$out" | sed 's/^ *//') in $dt s"
	else
		bad "ping $dst: exit $rc after $dt s, no ICMP unreachable from $dst: $(tr '\n' '|' <<<"$out")"
	fi
done

u1=$(stat 1 counters.icmp_unreach_sent)
if [ "$((u1 - u0))" = "$sent" ]; then
	ok "n1 counters.icmp_unreach_sent grew by $sent, one per ping"
else
	bad "n1 counters.icmp_unreach_sent grew by $((u1 - u0)), want $sent"
fi
check "a hosted VIP still answers ($P-j1 -> $P-j2)" q jx "$P-j1" ping -q -c 1 -W 2 "${VIP4[$P-j2]}"

finish
