#!/usr/bin/env bash
# A real container on tunvnet: an OCI bundle (busybox-static rootfs, `runc spec`), its
# network namespace made and given to tunvnet-cni ADD exactly as a runtime does, the
# container started by runc in that namespace; it reaches a job on another node and is
# reached by it; after the container is gone, DEL leaves nothing behind.
. "$(dirname "$0")/lib.sh"
need python3 ping runc
CNI=$ROOT/tunvnet-cni
[ -x "$CNI" ] || abort "tunvnet-cni not built (run make)"
BUSYBOX=/bin/busybox   # Debian's busybox-static: one static binary, fit for any rootfs
[ -x "$BUSYBOX" ] || abort "busybox-static is not installed"
S2=$(sock 2)
CID=$P-runc-$$
RUNC=(runc --root "$T/runc")
NSNAME=$P-j7
NS=/run/netns/$NSNAME
started=0

runc_cleanup() {
	[ $started = 1 ] && "${RUNC[@]}" delete -f "$CID" >/dev/null 2>&1
	ip netns del "$NSNAME" 2>/dev/null
}
trap 'runc_cleanup; cleanup' EXIT

cluster_up 2
job "$P-j1" 1 0
check "the cluster routes $P-j1" wait_jobs_routed 10

# the bundle: a busybox rootfs and runc's default spec, edited as a runtime would
B=$T/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp "$BUSYBOX" "$B/rootfs/bin/busybox"
for a in sh ping ip sleep cat echo nc; do ln -s busybox "$B/rootfs/bin/$a"; done
(cd "$B" && runc spec) || abort "runc spec failed"
python3 - "$B/config.json" "$NS" <<'PY' || abort "cannot edit config.json"
import json, sys
path, ns = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "300"]
caps = c["process"]["capabilities"]
for k in caps:                       # busybox ping opens a raw socket
    if "CAP_NET_RAW" not in caps[k]:
        caps[k].append("CAP_NET_RAW")
for n in c["linux"]["namespaces"]:   # the network namespace is the one CNI set up
    if n["type"] == "network":
        n["path"] = ns
c["hostname"] = "tvcontainer"
json.dump(c, open(path, "w"), indent=1)
PY
ok "OCI bundle: busybox rootfs, config.json with network namespace $NS"

# the runtime's steps: make the namespace, ADD, start the container in it
ip netns add "$NSNAME" || abort "ip netns add $NSNAME"
CONF=$(printf '{"cniVersion": "1.0.0", "name": "tvnet", "type": "tunvnet-cni", "socket": "%s", "dataDir": "%s"}' "$S2" "$T/cni")
res=$(CNI_COMMAND=ADD CNI_CONTAINERID=$CID CNI_NETNS=$NS CNI_IFNAME=eth0 CNI_PATH=$ROOT \
	timeout 20 "$CNI" <<<"$CONF")
rc=$?
vip=$(jget 'd["ips"][0]["address"].split("/")[0]' <<<"$res" 2>/dev/null)
[ $rc = 0 ] && [ -n "$vip" ] && ok "CNI ADD: $vip" || abort "CNI ADD: exit $rc: $res"

"${RUNC[@]}" run -d --bundle "$B" "$CID" </dev/null >"$T/runc.out" 2>&1 && started=1
running() { "${RUNC[@]}" state "$CID" 2>/dev/null | jget 'd["status"]' | grep -qx running; }
check "runc: the container runs" wait_until 10 running
[ $started = 1 ] || { sed 's/^/    /' "$T/runc.out"; abort "runc run failed"; }

out=$("${RUNC[@]}" exec "$CID" ip -o addr show dev eth0 2>&1)
grep -q "inet $vip/" <<<"$out" && ok "inside the container: eth0 has $vip" || bad "container's eth0: $out"
check "the container (on n2) reaches $P-j1 on n1" \
	q "${RUNC[@]}" exec "$CID" ping -c 2 -W 2 "${VIP4[$P-j1]}"
check "$P-j1 on n1 reaches the container" wait_until 5 q jx "$P-j1" ping -c 1 -W 1 "$vip"
# a TCP exchange, the container serving
"${RUNC[@]}" exec -d "$CID" sh -c "echo hello-from-container | nc -l -p 7777" 2>/dev/null
got() { [ "$(jx "$P-j1" timeout 3 bash -c "exec 3<>/dev/tcp/$vip/7777 && cat <&3" 2>/dev/null)" = hello-from-container ]; }
check "$P-j1 opens a TCP connection to the container's server" wait_until 10 got

# the runtime's teardown: stop and delete the container, DEL, delete the namespace
"${RUNC[@]}" kill "$CID" KILL >/dev/null 2>&1
stopped() { ! running; }
wait_until 10 stopped
"${RUNC[@]}" delete -f "$CID" >/dev/null 2>&1 && started=0
CONF=$(python3 -c 'import json, sys
c = json.loads(sys.argv[1]); c["prevResult"] = json.loads(sys.argv[2]); print(json.dumps(c))' "$CONF" "$res")
out=$(CNI_COMMAND=DEL CNI_CONTAINERID=$CID CNI_NETNS=$NS CNI_IFNAME=eth0 CNI_PATH=$ROOT \
	timeout 20 "$CNI" <<<"$CONF")
rc=$?
[ $rc = 0 ] && ok "CNI DEL" || bad "CNI DEL: exit $rc: $out"
ip netns del "$NSNAME"
nothing_left() {
	[ "$(ctl 2 --json jobs | jget 'len(d)')" = 0 ] || return 1
	! ctl 1 --json routes | grep -q "\"$vip[/\"]" || return 1
	[ -z "$(ls -A "$T/cni/tvnet" 2>/dev/null)" ]
}
check "after DEL: no job, no route, no record" wait_until 5 nothing_left
check "after DEL: runc knows no container" eval '! "${RUNC[@]}" state "$CID" >/dev/null 2>&1'

finish
