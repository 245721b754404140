#!/usr/bin/env bash
# In-daemon capture (vnetctl capture): a filtered capture holds exactly the packets the
# test sent that match, on the sending and on the receiving node, and tcpdump and tshark
# read the file; a bad filter gets libpcap's message; `-w - | tcpdump -r -` shows
# packets while they flow; a reader that stops reading costs packets (counted, reported
# at the end), not forwarding: iperf3 and ping go on.
# timeout: 240
. "$(dirname "$0")/lib.sh"
need python3 tcpdump tshark iperf3

cluster_up 2
J1=$P-j1
J2=$P-j2
job "$J1" 1 0
job "$J2" 2 0
check "both nodes route both jobs" wait_jobs_routed 30
A=${VIP4[$J1]}
B=${VIP4[$J2]}

# started CAPFILE: the capture is running once vnetctl wrote the pcap file header.
started() { [ -e "$1" ] && [ "$(wc -c <"$1")" -ge 24 ]; }

# udp_send NS DST PORT N TAG [SPORT]: N datagrams "TAG i" (i = 0..N-1) from namespace NS.
udp_send() {
	jx "$1" python3 -c '
import socket, sys, time
dst, port, n, tag, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], \
    int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sport:
    s.bind(("", sport))
for i in range(n):
    s.sendto(("%s %d" % (tag, i)).encode(), (dst, port))
    time.sleep(0.002)' "$2" "$3" "$4" "$5" "${6:-0}"
}

# payloads FILE: the UDP payloads in a pcap file, one per line, as tshark decodes them.
payloads() {
	tshark -r "$1" -T fields -e data.data 2>/dev/null |
		python3 -c 'import sys
for l in sys.stdin:
    l = l.strip()
    if l:
        print(bytes.fromhex(l.replace(":", "")).decode(errors="replace"))'
}

# ---- a filtered capture holds all the matching packets and only them ----
# Each capture stops at the count of packets that match (-c), not after a time: what
# is missing makes it run into its timeout, what should not match shows in the file.
N=200
rm -f "$T/n1.pcap" "$T/n2.pcap"
spawn timeout 90 "$VNETCTL" -s "$(sock 1)" capture --all -c $N -w "$T/n1.pcap" \
	udp dst port 5201 2>"$T/n1.err"
c1=$!
# n2's "udp and port 5201" also takes the 30 datagrams going back
spawn timeout 90 "$VNETCTL" -s "$(sock 2)" capture --vip "$B" -c $((N + 30)) \
	-w "$T/n2.pcap" udp and port 5201 2>"$T/n2.err"
c2=$!
if wait_until 30 started "$T/n1.pcap" && wait_until 30 started "$T/n2.pcap"; then
	ok "captures started on n1 (--all) and n2 (--vip)"
else
	bad "captures did not start: $(cat "$T/n1.err" "$T/n2.err")"
fi
udp_send "$J1" "$B" 5201 "$N" match &
p1=$!
udp_send "$J1" "$B" 5202 100 noise &   # another port: captured nowhere
p2=$!
jx "$J1" ping -c 20 -i 0.05 -q "$B" >/dev/null &
p3=$!
udp_send "$J2" "$A" 6000 30 back 5201 & # source port 5201: n2's filter only
p4=$!
wait "$p1" "$p2" "$p3" "$p4"
wait "$c1" "$c2"
for f in n1 n2; do
	got=$(tcpdump -n -r "$T/$f.pcap" 2>/dev/null | wc -l)
	want=$N
	[ $f = n2 ] && want=$((N + 30))  # n2's "udp and port 5201" takes the 30 going back
	if [ "$got" = "$want" ]; then
		ok "$f: tcpdump reads $got packets, as many as were sent that match"
	else
		bad "$f: tcpdump reads $got packets, want $want ($(cat "$T/$f.err"))"
	fi
	others=$(tcpdump -n -r "$T/$f.pcap" 'not (udp and port 5201)' 2>/dev/null | wc -l)
	check "$f: no packet that does not match the filter" [ "$others" = 0 ]
done
payloads "$T/n1.pcap" | sort >"$T/got1"
seq 0 $((N - 1)) | sed 's/^/match /' | sort >"$T/want1"
if cmp -s "$T/got1" "$T/want1"; then
	ok "n1: tshark decodes every datagram sent to port 5201 exactly once"
else
	bad "n1: payloads differ from what was sent: $(diff "$T/want1" "$T/got1" | head -5)"
fi
n2match=$(tshark -r "$T/n2.pcap" -Y "udp.dstport == 5201 && ip.dst == $B" 2>/dev/null | wc -l)
check "n2: tshark finds the $N datagrams to $B:5201" [ "$n2match" = "$N" ]
check "the capture reports no loss" grep -q " 0 dropped" "$T/n1.err"

# ---- a bad filter expression gets libpcap's message ----
out=$(ctl 1 capture --all 'tcp port' 2>&1)
rc=$?
if [ $rc != 0 ] && echo "$out" | grep -qi "syntax error"; then
	ok "a bad filter is refused with libpcap's message: $out"
else
	bad "bad filter: rc $rc, output: $out"
fi
out=$(ctl 1 --json capture --all 'udp port 99999' 2>&1)
check "an impossible port is refused too" [ $? != 0 ]

# ---- --peer: both directions of one peer's link ----
rm -f "$T/peer.pcap"
spawn timeout 60 "$VNETCTL" -s "$(sock 1)" capture --peer n2 -c 8 -w "$T/peer.pcap" \
	icmp 2>"$T/peer.err"
cp=$!
wait_until 30 started "$T/peer.pcap" || bad "the --peer capture did not start"
jx "$J1" ping -c 4 -i 0.2 -q "$B" >/dev/null
wait "$cp"
req=$(tcpdump -n -r "$T/peer.pcap" 'icmp[icmptype] == 8' 2>/dev/null | wc -l)
rep=$(tcpdump -n -r "$T/peer.pcap" 'icmp[icmptype] == 0' 2>/dev/null | wc -l)
check "--peer n2: the 4 requests sent to n2 and the 4 replies from it ($req, $rep)" \
	[ "$req:$rep" = 4:4 ]
out=$(ctl 1 capture --peer n9 2>&1)
check "--peer of an unknown node is refused: $out" [ $? != 0 ]

# ---- live: -w - | tcpdump -r - shows packets while traffic flows ----
# (through a FIFO, so that both ends have a PID: the capture runs until it is stopped;
# each end opens it in its own process, as opening a FIFO waits for the other end)
mkfifo "$T/live.fifo"
spawn bash -c 'exec timeout 95 tcpdump -n -l -r - <"$1" >"$2" 2>"$3"' _ "$T/live.fifo" \
	"$T/live.txt" "$T/live.tcpdump"
tdump=$!
spawn bash -c 'exec timeout 90 "$1" -s "$2" capture --vip "$3" -w - icmp 2>"$4" >"$5"' _ \
	"$VNETCTL" "$(sock 1)" "$A" "$T/live.err" "$T/live.fifo"
live=$!
# tcpdump has read the pcap header: the capture runs
wait_until 30 grep -q "reading from file" "$T/live.tcpdump" ||
	bad "live: the capture did not start: $(cat "$T/live.err" "$T/live.tcpdump")"
jx "$J1" ping -c 5 -i 0.2 -q "$B" >/dev/null
if wait_until 30 grep -q "seq 5, length" "$T/live.txt"; then
	ok "live: tcpdump -r - shows the pings while the capture runs"
else
	bad "live: not on tcpdump: $(cat "$T/live.txt" "$T/live.err" | head -5)"
fi
check "live: the capture was still running then" kill -0 "$live"
kill -TERM "$live"
wait "$live"
wait "$tdump"
n=$(grep -c "ICMP echo" "$T/live.txt")
check "live: 5 requests and 5 replies ($n lines)" [ "$n" = 10 ]

# ---- a reader that stops reading: forwarding goes on, the loss is reported ----
spawn jx "$J2" iperf3 -s -B "$B" -p 5201 -1 >/dev/null 2>&1
iperf_srv=$!
wait_until 30 listening "$J2" 5201 || bad "iperf3 -s does not listen"
base=$(jx "$J1" iperf3 -c "$B" -p 5201 -t 2 -J 2>/dev/null |
	jget 'round(d["end"]["sum_received"]["bits_per_second"] / 1e6)')
wait "$iperf_srv" 2>/dev/null
info "iperf3 without a capture: ${base:-?} Mbit/s"
spawn jx "$J2" iperf3 -s -B "$B" -p 5201 -1 >/dev/null 2>&1
iperf_srv=$!
wait_until 30 listening "$J2" 5201 || bad "iperf3 -s does not listen"
# the reader reads nothing until the iperf3 run and the ping are over ($T/go), then
# everything there is; the capture runs until it is stopped after that
rm -f "$T/slow.pcap" "$T/go"
mkfifo "$T/slow.fifo"
spawn sh -c "exec <'$T/slow.fifo'; while [ ! -e '$T/go' ]; do sleep 0.1; done
	exec cat >'$T/slow.pcap'"
reader=$!
n0=$(captures_started 1)
spawn bash -c 'exec timeout 120 "$1" -s "$2" capture --all -w - 2>"$3" >"$4"' _ \
	"$VNETCTL" "$(sock 1)" "$T/slow.err" "$T/slow.fifo"
slow=$!
more_captures() { [ "$(captures_started 1)" -gt "$n0" ]; }
wait_until 30 more_captures || bad "the capture with a stalled reader did not start"
with=$(jx "$J1" iperf3 -c "$B" -p 5201 -t 3 -J 2>/dev/null |
	jget 'round(d["end"]["sum_received"]["bits_per_second"] / 1e6)')
wait "$iperf_srv" 2>/dev/null
info "iperf3 with a capture whose reader sleeps: ${with:-?} Mbit/s"
if [ -n "$base" ] && [ -n "$with" ] && [ "$with" -ge $((base / 4)) ] && [ "$with" -ge 50 ]; then
	ok "forwarding goes on with a stalled capture reader ($with vs $base Mbit/s)"
else
	bad "throughput with a stalled capture reader: ${with:-none} Mbit/s (without: ${base:-?})"
fi
check "ping works while the reader is stalled" q jx "$J1" ping -c 3 -i 0.2 -W 1 "$B"
touch "$T/go"
kill -TERM "$slow"
wait "$slow"
wait "$reader"
info "capture: $(cat "$T/slow.err")"
dropped=$(sed -n 's/.* \([0-9][0-9]*\) dropped.*/\1/p' "$T/slow.err")
if [ -n "$dropped" ] && [ "$dropped" -gt 0 ]; then
	ok "the loss is reported at the end ($dropped packets dropped)"
else
	bad "no loss reported: $(cat "$T/slow.err")"
fi
check "what got through is a pcap tcpdump reads" q tcpdump -n -r "$T/slow.pcap" -c 10
check "the daemon's counters saw the iperf3 run" [ "$(stat 1 counters.peer_tx_packets)" -gt 1000 ]

finish
