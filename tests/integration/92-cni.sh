#!/usr/bin/env bash
# tunvnet-cni driven as a container runtime drives it: ADD (pool and static VIPs), CHECK,
# DEL twice, DEL of a deleted namespace, VERSION, and bad configurations answered with the
# spec's error object and a non-zero exit status. Nothing is left afterwards.
. "$(dirname "$0")/lib.sh"
need python3 ping
CNI=$ROOT/tunvnet-cni
[ -x "$CNI" ] || abort "tunvnet-cni not built (run make)"
S2=$(sock 2)
DATA=$T/cni-data

conf() {  # conf [IPAM-JSON]: the network configuration, on stdout
	local ipam=${1:-}
	printf '{"cniVersion": "1.0.0", "name": "tvnet", "type": "tunvnet-cni", "socket": "%s", "dataDir": "%s"%s}' \
		"$S2" "$DATA" "${ipam:+, \"ipam\": $ipam}"
}
with_prev() {  # with_prev CONF RESULT: CONF with prevResult = RESULT
	python3 -c 'import json, sys
c = json.loads(sys.argv[1]); c["prevResult"] = json.loads(sys.argv[2]); print(json.dumps(c))' "$1" "$2"
}
# cni CMD NETNS-PATH CONTAINERID [IFNAME]: the plugin with CONF on stdin; output in $out,
# status in $rc
cni() {
	out=$(CNI_COMMAND=$1 CNI_NETNS=$2 CNI_CONTAINERID=$3 CNI_IFNAME=${4:-eth0} \
		CNI_PATH=/opt/cni/bin CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=x" \
		timeout 20 "$CNI" <<<"$CONF" 2>"$T/cni.err")
	rc=$?
}
code_is() {  # code_is N: $out is an error object with code N
	jget "d['code'] == $1 and d['cniVersion'] == '1.0.0' and isinstance(d['msg'], str) and 'details' in d" \
		<<<"$out" | grep -qx true
}
nothing_left() {
	[ "$(ctl 2 --json jobs | jget 'len(d)')" = 0 ] || return 1
	[ -z "$(ls -A "$DATA/tvnet" 2>/dev/null)" ]
}

cluster_up 2
job "$P-j1" 1 0
check "the cluster routes $P-j1" wait_jobs_routed 10

CONF='{"cniVersion": "1.0.0"}'
cni VERSION "" ""
[ $rc = 0 ] && jget '"1.0.0" in d["supportedVersions"] and d["cniVersion"] == "1.0.0"' <<<"$out" | grep -qx true &&
	ok "VERSION: supports 1.0.0" || bad "VERSION: exit $rc: $out"

# ADD from the pool, as a runtime does it: a fresh namespace, CNI_IFNAME eth0
ip netns add "$P-j5" && JOBS+=("$P-j5") && ip -n "$P-j5" link set lo up
NS=/run/netns/$P-j5
CONF=$(conf)
cni ADD "$NS" ctr-5
res=$out
vip=$(jget 'd["ips"][0]["address"].split("/")[0]' <<<"$res" 2>/dev/null)
if [ $rc = 0 ] && [[ $vip =~ ^198\.19\.2\.[0-9]+$ ]] &&
   jget 'd["interfaces"] == [{"name": "eth0", "sandbox": "'"$NS"'"}] and d["ips"][0]["interface"] == 0 and {"dst": "0.0.0.0/0"} in d["routes"]' <<<"$res" | grep -qx true; then
	ok "ADD: VIP $vip from n2's pool on eth0 in $NS"
else
	bad "ADD: exit $rc: $res $(cat "$T/cni.err")"
fi
check "ADD: eth0 names the TUN in the container (altname of tv0)" \
	q ip -n "$P-j5" addr show dev eth0
ip -n "$P-j5" -o addr show dev eth0 | grep -q "inet $vip/" && ok "ADD: eth0 has $vip" ||
	bad "ADD: no $vip on eth0: $(ip -n "$P-j5" -o addr)"
check "ADD: the container reaches $P-j1 on n1" q jx "$P-j5" ping -c 2 -i 0.2 -W 2 "${VIP4[$P-j1]}"
check "ADD: $P-j1 on n1 reaches the container" wait_until 5 q jx "$P-j1" ping -c 1 -W 1 "$vip"
check "ADD: the attachment is recorded" test -s "$DATA/tvnet/ctr-5-eth0"

# ADD twice for one namespace is refused (an interface of that name exists)
cni ADD "$NS" ctr-5b
[ $rc != 0 ] && code_is 102 && ok "second ADD into the namespace: error 102" ||
	bad "second ADD: exit $rc: $out"

CONF=$(with_prev "$(conf)" "$res")
cni CHECK "$NS" ctr-5
[ $rc = 0 ] && [ -z "$out" ] && ok "CHECK after ADD: ok, no output" || bad "CHECK: exit $rc: $out $(cat "$T/cni.err")"
ctl 2 detach --vip "$vip" >/dev/null
cni CHECK "$NS" ctr-5
[ $rc != 0 ] && code_is 101 && ok "CHECK of a detached VIP: error 101: $(jget 'd["msg"]' <<<"$out")" ||
	bad "CHECK after detach: exit $rc: $out"
ctl 2 attach --netns "$P-j5" --vip "$vip" >/dev/null   # as it was: DEL's turn

cni DEL "$NS" ctr-5
[ $rc = 0 ] && [ -z "$out" ] && ok "DEL: ok, no output" || bad "DEL: exit $rc: $out $(cat "$T/cni.err")"
check "DEL: no job, no record left" wait_until 3 nothing_left
check "DEL: no tv0 or eth0 left in the namespace" eval '! ip -n "$P-j5" link show tv0 >/dev/null 2>&1 && ! ip -n "$P-j5" link show eth0 >/dev/null 2>&1'
routed() { ctl 1 --json routes | grep -q "\"$vip[/\"]"; }
check "DEL: n1 no longer routes $vip" wait_until 5 eval '! routed'
cni DEL "$NS" ctr-5
[ $rc = 0 ] && ok "DEL again: ok" || bad "DEL again: exit $rc: $out"

# static VIPs (ipam type static), IPv4 and IPv6, the interface named as the runtime asks
CONF=$(conf '{"type": "static", "addresses": [{"address": "198.19.2.40/24"}, {"address": "fd00:19:2::40/64"}]}')
cni ADD "$NS" ctr-6 net1
res=$out
[ $rc = 0 ] && jget '[i["address"] for i in d["ips"]] == ["198.19.2.40/32", "fd00:19:2::40/128"] and {"dst": "::/0"} in d["routes"]' <<<"$res" | grep -qx true &&
	ok "ADD static: 198.19.2.40 and fd00:19:2::40 on net1" || bad "ADD static: exit $rc: $res $(cat "$T/cni.err")"
check "ADD static: IPv6 reaches $P-j1" q jx "$P-j5" ping -6 -c 2 -i 0.2 -W 2 "${VIP6[$P-j1]}"
# the runtime deletes the namespace first, then calls DEL (with CNI_NETNS still set)
ip netns del "$P-j5"
CONF=$(with_prev "$CONF" "$res")
cni DEL "$NS" ctr-6 net1
[ $rc = 0 ] && ok "DEL after the namespace is gone: ok" || bad "DEL, namespace gone: exit $rc: $out $(cat "$T/cni.err")"
check "DEL, namespace gone: nothing left" wait_until 3 nothing_left
# and without CNI_NETNS, nor a record: nothing to do, success
cni DEL "" ctr-6 net1
[ $rc = 0 ] && ok "DEL without CNI_NETNS: ok" || bad "DEL without CNI_NETNS: exit $rc: $out"

# errors: the error object on stdout, a non-zero status
ip netns add "$P-j5" && ip -n "$P-j5" link set lo up
CONF='{"cniVersion": "1.0.0", "name": "tvnet", "type": "tunvnet-cni", "ipam": {"type": "host-local", "subnet": "10.1.0.0/16"}}'
cni ADD "$NS" ctr-7
[ $rc != 0 ] && code_is 2 && ok "unsupported ipam: error 2: $(jget 'd["msg"]' <<<"$out" | cut -c1-60)..." ||
	bad "unsupported ipam: exit $rc: $out"
CONF='{"cniVersion": "1.0.0", "name": "tvnet"'
cni ADD "$NS" ctr-7
[ $rc != 0 ] && code_is 6 && ok "malformed JSON: error 6" || bad "malformed JSON: exit $rc: $out"
CONF='{"cniVersion": "7.0.0", "name": "tvnet", "type": "tunvnet-cni"}'
cni ADD "$NS" ctr-7
[ $rc != 0 ] && jget 'd["code"]' <<<"$out" | grep -qx 1 && ok "unknown cniVersion: error 1" ||
	bad "unknown cniVersion: exit $rc: $out"
CONF=$(conf)
cni ADD "" ctr-7
[ $rc != 0 ] && code_is 4 && grep -q CNI_NETNS <<<"$out" && ok "no CNI_NETNS: error 4 naming it" ||
	bad "no CNI_NETNS: exit $rc: $out"
cni ADD /run/netns/$P-no-such ctr-7
[ $rc != 0 ] && code_is 3 && ok "a namespace that does not exist: error 3" || bad "no such netns: exit $rc: $out"
CONF=$(conf '{"type": "static", "addresses": [{"address": "10.9.9.9"}]}')
cni ADD "$NS" ctr-7
[ $rc != 0 ] && code_is 100 && grep -q NOT_IN_POOL <<<"$out" && ok "VIP outside the pool: error 100, NOT_IN_POOL" ||
	bad "VIP outside the pool: exit $rc: $out"
CONF=$(printf '{"cniVersion": "1.0.0", "name": "tvnet", "type": "tunvnet-cni", "socket": "%s", "dataDir": "%s"}' "/run/tunvnet/$P-none.sock" "$DATA")
cni ADD "$NS" ctr-7
[ $rc != 0 ] && code_is 11 && ok "no daemon: error 11 (try again later)" || bad "no daemon: exit $rc: $out"
check "after the errors: nothing left" wait_until 3 nothing_left
ip netns del "$P-j5"

finish
