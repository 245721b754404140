#!/usr/bin/env bash
# The suite's migration and capture scenarios again with route_store = etcd (a real etcd
# on the underlay, scripts/vnet-cluster VNET_ETCD=1): 97-migrate-repair (TCP connections
# moved with TCP_REPAIR, three moves, every byte checked) and 99-capture-move (a capture
# that follows a VIP across two moves). 10-mesh's scenario is 16-etcd-store's part A.
# Each runs as it is, its lines prefixed; this test passes when both pass.
# timeout: 330
. "$(dirname "$0")/lib.sh"
need python3
[ -x /usr/bin/etcd ] || abort "etcd is not installed (scripts/deps.sh: etcd-server)"

for t in 97-migrate-repair 99-capture-move; do
	t0=$SECONDS
	VNET_ETCD=1 VNET_LEASE_TTL=5 bash "$ROOT/tests/integration/$t.sh" >"$T/$t.out" 2>&1
	rc=$?
	sed "s/^/    [$t] /" "$T/$t.out" | grep -v "^    \[$t\] ok " | tail -n 20
	last=$(tail -n 1 "$T/$t.out")
	if [ $rc = 0 ]; then ok "$t with route_store = etcd: $last in $((SECONDS - t0)) s"
	else bad "$t with route_store = etcd: exit $rc: $last"; fi
done
finish
