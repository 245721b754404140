#!/usr/bin/env bash
# The UDP substrate with `[substrate] policy = udp`: pings v4/v6 (small and fragmented
# into several datagrams), a checked stream between jobs whose data really goes on the
# UDP link, offload mixed (n2 runs offload = off), the policy switched live during a
# checked stream (tcp, udp, auto: nothing lost), and strangers' datagrams on the UDP
# port cost nothing and break nothing. (10-mesh, 20-tcp and 99-offload run over UDP
# too with VNET_SUBSTRATE=udp.)
# timeout: 150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/substrlib.sh"
need python3
export VNET_SUBSTRATE=udp VNET_OFFLOAD_OFF=2

cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 2 0
check "n1 and n2 route both jobs" wait_jobs_routed 30
check "n1 sends n2's data on udp" wait_until 10 is_on 1 n2 udp
check "n2 sends n1's data on udp" wait_until 10 is_on 2 n1 udp
# this machine has no RDMA device (and no verbs build elsewhere): unavailable, and why
check "vnetctl peers says why verbs is not used ($(ctl 1 peers | grep -o 'verbs  *unavailable.*' | tr -s ' '))" \
	sh -c "'$VNETCTL' -s '$(sock 1)' peers | grep -Eq 'verbs +unavailable .*[a-z].* on n1'"

check "ping v4 over udp" q jx "$P-j1" ping -c 3 -i 0.2 -W 2 "${VIP4[$P-j2]}"
check "ping v6 over udp" q jx "$P-j1" ping -c 3 -i 0.2 -W 2 "${VIP6[$P-j2]}"
check "ping v4, 8000 bytes (pieces of one frame)" q jx "$P-j1" ping -c 3 -i 0.2 -s 8000 -W 2 "${VIP4[$P-j2]}"
check "ping v6, 8000 bytes" q jx "$P-j2" ping -c 3 -i 0.2 -s 8000 -W 2 "${VIP6[$P-j1]}"

# n1 (offload on: super-packets) -> n2 (offload off: segmented on arrival), over udp
before=$(link_tx 1 n2 udp)
stream_start "$P-j1" "$P-j2" 5001 4
stream_check 5001 "stream n1 -> n2 over udp (offload on -> off)"
after=$(link_tx 1 n2 udp)
if [ "$((after - before))" -gt 1000 ]; then
	ok "the stream's frames went on the udp link ($((after - before)) frames)"
else
	bad "the udp link carried only $((after - before)) frames"
fi
stream_start "$P-j2" "$P-j1" 5002 3
stream_check 5002 "stream n2 -> n1 over udp (offload off -> on)"

# the policy changed live under a stream: tcp, udp, auto
stream_start "$P-j1" "$P-j2" 5003 9 20
sleep 2
check "vnetctl substrate n2 tcp" q ctl 1 substrate n2 tcp
check "now on tcp" wait_until 5 is_on 1 n2 tcp
sleep 2
check "vnetctl substrate n2 udp" q ctl 1 substrate n2 udp
check "now on udp" wait_until 5 is_on 1 n2 udp
sleep 2
check "vnetctl substrate n2 auto" q ctl 1 substrate n2 auto
stream_check 5003 "stream n1 -> n2 with the substrate switched live twice"
sw=$(ctl 1 --json events | jget "len([e for e in d if e['type'] == 'substrate_switch'])")
check "the switches are events ($sw)" test "${sw:-0}" -ge 2

# strangers: datagrams that are not a LINK_OPEN, and a forged LINK_OPEN, on the port
refused0=$(stat 2 counters.handshake_refused)
ip netns exec "$P-n1" python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    s.sendto(b"\x02\x05\x00\x00\x00\x00\x00\x04" + struct.pack(">II", i, 0) + b"junk", ("198.18.0.2", 7000))
    s.sendto(b"\x02\x02\x00\x00\x00\x00\x00\x30" + struct.pack(">II", i, 0) + bytes(48), ("198.18.0.2", 7000))
'
check "n2 still sends n1's data on udp after strangers' datagrams" is_on 2 n1 udp
check "ping over udp after strangers' datagrams" q jx "$P-j1" ping -c 2 -i 0.2 -W 2 "${VIP4[$P-j2]}"
refused1=$(stat 2 counters.handshake_refused)
info "forged LINK_OPENs refused by n2: $((refused1 - refused0)) (the rest were not even looked at)"
finish
