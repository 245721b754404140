#!/usr/bin/env bash
# On a machine without an RDMA device (and without the emulated fabric's test switch):
# `vnetctl peers` shows verbs unavailable with the reason, "no RDMA device", and it is
# never chosen, even with `[substrate] policy = auto` (n1) or `verbs` (n2). Skipped where
# a real device exists.
. "$(dirname "$0")/lib.sh"
need python3
unset TUNVNET_TEST_VERBS_EMU VNET_SUBSTRATE VNET_SUBSTRATE_LINES
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
	echo "0 passed, 0 failed, 1 skipped (this machine has an RDMA device)"
	exit 0
fi
REAL_TUNVNETD=$TUNVNETD
{
	echo '#!/bin/bash'
	echo 'k=$(basename "$2" .conf)'
	echo '[ "$k" = n1 ] && printf "\n[substrate]\npolicy = auto\n" >>"$2"'
	echo '[ "$k" = n2 ] && printf "\n[substrate]\npolicy = verbs\n" >>"$2"'
	echo "exec \"$REAL_TUNVNETD\" \"\$@\""
} >"$T/tunvnetd"
chmod +x "$T/tunvnetd"
export TUNVNETD=$T/tunvnetd

# verbs K NODE FIELD: substrate verbs's FIELD toward NODE as node K shows it.
verbs() {
	ctl "$1" --json peers 2>/dev/null | jget "[s['$3'] for p in d if p['node'] == '$2'
for s in p.get('substrates', []) if s['name'] == 'verbs'][0]" 2>/dev/null
}
using() {
	ctl "$1" --json peers 2>/dev/null |
		jget "[p['substrate'] for p in d if p['node'] == '$2'][0]" 2>/dev/null
}

cluster_up 2
for k in 1 2; do
	o=$((3 - k))
	st=$(verbs $k n$o state)
	why=$(verbs $k n$o why)
	if [ "$st" = unavailable ]; then ok "n$k: verbs unavailable"; else bad "n$k: verbs is '$st'"; fi
	case $why in
	*"no RDMA device"*) ok "n$k says why: verbs: $why" ;;
	*) bad "n$k gives no reason: '$why'" ;;
	esac
	u=$(using $k n$o)
	if [ -n "$u" ] && [ "$u" != verbs ]; then ok "n$k sends to n$o over $u, not verbs"
	else bad "n$k uses '$u' toward n$o"; fi
done
if ctl 1 peers 2>/dev/null | grep -Eq '^ +verbs +unavailable .*no RDMA device'; then
	ok "vnetctl peers (text): $(ctl 1 peers | grep -E '^ +verbs ' | head -1 | tr -s ' ')"
else
	bad "vnetctl peers (text) does not show verbs unavailable with its reason"
fi
if grep -Eq "data .*-> verbs" "$CDIR"/n*.log; then bad "a daemon put data on verbs"
else ok "no daemon ever chose verbs"; fi
finish
