#!/usr/bin/env bash
# `[substrate] policy = auto` under changing conditions, each during a checked TCP stream
# between jobs: UDP blocked on n2's underlay with nftables (auto moves to TCP: the time
# is printed, the rule is that it happens and nothing is lost) and unblocked (back on
# UDP within the chooser's recovery and hold times); 5% random loss on UDP (the stream
# completes, auto prefers TCP); UDP throttled with tc htb on its port (auto moves to
# TCP).
# timeout: 200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/substrlib.sh"
need python3
need nft
need tc
export VNET_SUBSTRATE=auto

cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 2 0
check "n1 and n2 route both jobs" wait_jobs_routed 30
check "auto picks udp when both are fine" wait_until 10 is_on 1 n2 udp

# 1. UDP blocked during a stream
stream_start "$P-j1" "$P-j2" 5001 8 20
sleep 2
t0=$(now_us)
udp_block 2
check "UDP blocked: n1 moves n2's data to tcp" wait_until 10 is_on 1 n2 tcp
ms=$(switch_ms 1 "$t0" tcp)
info "failover to tcp ${ms:-?} ms after the block (target: under 1000)"
why=$(sub_field 1 n2 udp why)
check "vnetctl peers says udp is blocked (\"$why\")" sh -c "echo '$why' | grep -q 'blocked, 0 of'"
stream_check 5001 "stream n1 -> n2 across the failover"
udp_unblock 2
t1=$(now_us)
check "unblocked: back on udp" wait_until 30 is_on 1 n2 udp
info "back on udp $(( ($(now_us) - t1) / 1000 )) ms after the rule went (recovery $((2)) s + hold 5 s at most)"
fo=$(ctl 1 --json peers | jget "[e['failovers'] for e in d if e['node'] == 'n2'][0]")
check "the failover is counted ($fo)" test "${fo:-0}" -ge 1

# 2. 5% random loss on UDP, both ways at n2
udp_loss 2 5
stream_start "$P-j1" "$P-j2" 5002 12 10
check "5% loss: auto prefers tcp" wait_until 25 is_on 1 n2 tcp
why=$(sub_field 1 n2 udp why)
info "udp: $why"
stream_check 5002 "stream n1 -> n2 under 5% udp loss"
udp_unblock 2

# 3. UDP throttled to 8 Mbit/s on its port: the trains see it, auto takes tcp
check "back on udp before the throttle" wait_until 30 is_on 1 n2 udp
ip netns exec "$P-n2" tc qdisc add dev eth0 root handle 1: htb default 10
ip netns exec "$P-n2" tc class add dev eth0 parent 1: classid 1:1 htb rate 8mbit burst 2k cburst 2k
ip netns exec "$P-n2" tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit
ip netns exec "$P-n2" tc filter add dev eth0 parent 1: protocol ip u32 match ip protocol 17 0xff \
	match ip sport 7000 0xffff flowid 1:1
ip netns exec "$P-n2" tc filter add dev eth0 parent 1: protocol ip u32 match ip protocol 17 0xff \
	match ip dport 7000 0xffff flowid 1:1
check "udp throttled: auto moves to tcp" wait_until 25 is_on 2 n1 tcp
info "n2's estimates: udp $(sub_field 2 n1 udp rate_mbps) Mbit/s, tcp $(sub_field 2 n1 tcp rate_mbps) Mbit/s; udp: $(sub_field 2 n1 udp why)"
ip netns exec "$P-n2" tc qdisc del dev eth0 root
finish
