#!/usr/bin/env bash
# The Wireshark dissector scripts/tunvnet.lua on an underlay capture (tcpdump on a node's
# eth0 while a second node joins and a job sends TCP and ping through the tunnel): tshark
# shows the frame header fields, the handshake, the membership and route messages, and
# the DATA frames' inner IP packets decoded by Wireshark down to TCP.
# timeout: 180
. "$(dirname "$0")/lib.sh"
need python3 tcpdump tshark iperf3
LUA=$ROOT/scripts/tunvnet.lua

cluster_up 1
spawn ip netns exec "$P-n1" tcpdump -i eth0 -s 0 -B 16384 -U --immediate-mode -w "$T/ul.pcap" \
	tcp port 7000 \
	2>"$T/tcpdump.err"
dump=$!
wait_until 30 grep -q "listening on" "$T/tcpdump.err" || bad "tcpdump did not start"
if timeout 60 "$CLUSTER" add 2 >"$T/add.log" 2>&1; then
	# shellcheck disable=SC2034  # lib.sh's cleanup reads it
	NODES=2
	ok "n2 joined while n1's underlay is captured"
else
	abort "n2 did not join: $(tail -3 "$T/add.log")"
fi
J1=$P-j1
J2=$P-j2
job "$J1" 1 0
job "$J2" 2 0
check "both nodes route both jobs" wait_jobs_routed 30
A=${VIP4[$J1]}
B=${VIP4[$J2]}
spawn jx "$J2" iperf3 -s -B "$B" -p 5201 -1 >/dev/null 2>&1
srv=$!
wait_until 30 listening "$J2" 5201 || bad "iperf3 -s does not listen"
check "iperf3 through the tunnel" q jx "$J1" iperf3 -c "$B" -p 5201 -n 2M
wait "$srv" 2>/dev/null
jx "$J1" ping -c 3 -i 0.2 -q "$B" >/dev/null
# a keepalive PING and PONG (every second) after the pings, written out (-U) by tcpdump
keepalive_seen() {
	local n
	n=$(tshark -X lua_script:"$LUA" -r "$T/ul.pcap" -Y 'tunvnet.type == 6 || tunvnet.type == 7' \
		-T fields -e frame.time_epoch 2>/dev/null |
		awk -v t="$1" '$1 > t { n++ } END { print n + 0 }')
	[ "$n" -ge 2 ]
}
wait_until 30 keepalive_seen "$EPOCHREALTIME" || bad "no keepalive PING and PONG captured"
kill "$dump"
wait "$dump" 2>/dev/null

# ts FILTER FIELDS...: tshark with the dissector, one line per matching packet.
ts() {
	local filter=$1 a=()
	shift
	for f in "$@"; do a+=(-e "$f"); done
	tshark -X lua_script:"$LUA" -r "$T/ul.pcap" -Y "$filter" -T fields -E occurrence=a \
		-E aggregator=' ' -E separator=' ' "${a[@]}" 2>/dev/null
}
count() { ts "$1" frame.number | wc -l; }
# inner PROTOFIELD VALUE: how many DATA frames carry an inner packet with that value (the
# field also matches the outer header: the underlay's own values are never VIPs / 5201).
inner() { ts "tunvnet.type == 5" "$1" | tr ' ' '\n' | grep -cx "$2"; }

check "tshark loads the dissector" q tshark -X lua_script:"$LUA" -r "$T/ul.pcap" -c 1
check "frame headers: version 1 everywhere" [ "$(count 'tunvnet && tunvnet.version != 1')" = 0 ]
ts tunvnet tunvnet.type | tr ' ' '\n' | sort -un >"$T/types"
check "HELLO, AUTH, PEERS, ROUTES, DATA, PING and PONG all decoded ($(tr '\n' ' ' <"$T/types"))" \
	[ "$(tr '\n' ' ' <"$T/types")" = "1 2 3 4 5 6 7 " ]
check "HELLO carries both node names" bash -c "
	ts() { tshark -X lua_script:'$LUA' -r '$T/ul.pcap' -Y 'tunvnet.type == 1' -T fields \
		-e tunvnet.name 2>/dev/null; }
	ts | grep -qx n1 && ts | grep -qx n2"
hello=$(ts 'tunvnet.type == 1' tunvnet.length tunvnet.family tunvnet.port | head -1)
hello_ok() { [[ $hello =~ ^[0-9]+\ 4\ 7000$ ]]; }
check "HELLO: length, address family and port ($hello)" hello_ok
check "ROUTES announce $A to n1 and $B to n2" bash -c "
	tshark -X lua_script:'$LUA' -r '$T/ul.pcap' -Y 'tunvnet.type == 4' -T fields \
		-E occurrence=a -e tunvnet.vip -e tunvnet.node 2>/dev/null >'$T/routes'
	grep -q '$A' '$T/routes' && grep -q '$B' '$T/routes'"
check "every frame has its flags decoded" \
	[ "$(count 'tunvnet && !tunvnet.flags.forwarded')" = 0 ]
n=$(inner tcp.dstport 5201)
# 2 MB in super-packets of up to 64 KB: at least some 30 DATA frames
check "DATA frames hold the inner TCP to port 5201, dissected by Wireshark ($n)" [ "$n" -ge 30 ]
n=$(inner icmp.type 8)
check "and the 3 pings ($n)" [ "$n" = 3 ]
inner=$(ts "tunvnet.type == 5 && tcp.flags.syn == 1 && tcp.flags.ack == 0" ip.src ip.dst |
	head -1)
check "the inner SYN is from $A to $B ($inner)" [ "$inner" = "198.18.0.1 $A 198.18.0.2 $B" ]
check "nothing malformed" [ "$(count '_ws.malformed || tunvnet.malformed')" = 0 ]
# frames split over TCP segments are reassembled: as many DATA frames decoded as each
# direction's raw byte stream holds (parsed here without the dissector; in tshark's
# follow output, the second node's lines start with a tab)
tshark -r "$T/ul.pcap" -q -z follow,tcp,raw,0 2>/dev/null | python3 -c '
import re, sys
lines = sys.stdin.read().split("\n")
for tab in ("", "\t"):
    s = b"".join(bytes.fromhex(l[len(tab):]) for l in lines
                 if l.startswith(tab) and re.fullmatch(r"[0-9a-f]+", l[len(tab):]))
    n, off = 0, 0
    while off + 8 <= len(s):
        n += s[off + 1] == 5
        off += 8 + int.from_bytes(s[off + 4:off + 8], "big")
    print(n)' >"$T/sent"
nodes=$(tshark -r "$T/ul.pcap" -q -z follow,tcp,raw,0 2>/dev/null |
	sed -n 's/^Node [01]: \(.*\):[0-9]*$/\1/p')
# both ends of the stream, or the loop below would check less than it says
check "the underlay stream has its two ends, n1 and n2 ($(echo $nodes))" \
	[ "$(echo $nodes | tr ' ' '\n' | sort | tr '\n' ' ')" = "198.18.0.1 198.18.0.2 " ]
i=0
for ip in $nodes; do
	i=$((i + 1))
	sent=$(sed -n "${i}p" "$T/sent")
	# type and length of every DATA frame (several per TCP segment: values side by side)
	ts "tunvnet.type == 5 && ip.src == $ip" tunvnet.type tunvnet.length >"$T/data.$i"
	frames=$(python3 - "$T/data.$i" <<'PY'
import sys
n = 0
for line in open(sys.argv[1]):
    v = line.split()
    types = [w for w in v[: len(v) // 2]]
    lens = [w for w in v[len(v) // 2:]]
    # each frame a known type and a length that is a number; DATA frames counted
    if len(v) % 2 or "5" not in types or any(t not in set("1234567") for t in types) or \
       any(not l.isdigit() for l in lens):
        print("bad line: " + line.strip())
        sys.exit()
    n += types.count("5")
print(n)
PY
)
	if [[ $sent =~ ^[0-9]+$ ]] && [ "$sent" -gt 0 ] && [ "$frames" = "$sent" ]; then
		ok "every DATA frame in the stream from $ip is decoded, with type and length" \
			"($frames of $sent)"
	else
		bad "DATA frames from $ip: ${frames:-none} decoded, ${sent:-none} in the stream"
	fi
done
peer_tx=$(stat 1 counters.peer_tx_packets)
rx=$(inner ip.src "$A")
check "the DATA frames from $A are all those n1 sent ($rx of $peer_tx)" [ "$rx" = "$peer_tx" ]

# ---- a synthetic stream: a super-packet behind a virtio-net header, a frame split over
# two segments, a forwarded plain packet and a frame of an unknown version ----
python3 - "$T/synth.pcap" <<'PY'
import struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                    bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def tcp(sport, dport, seq, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 0x50, 0x18, 65535, 0, 0) + payload

def frame(ftype, flags, body):
    return struct.pack("!BBHI", 1, ftype, flags, len(body)) + body

# a 20000-byte TCP super-packet behind its virtio-net header (little-endian): GSO TCPv4,
# hdr_len 40, gso_size 1448, csum_start 20, csum_offset 16
inner = ip4("198.19.1.10", "198.19.2.10", 6, tcp(40000, 5201, 1000, b"x" * 20000))
vnet = struct.pack("<BBHHHH", 1, 1, 40, 1448, 20, 16)
data = frame(5, 0x0020, vnet + inner)
ping = frame(5, 0x0010, ip4("198.19.1.10", "198.19.2.10", 1, b"\x08\0\xf7\xfd\0\1\0\1"))
bad = struct.pack("!BBHI", 9, 5, 0, 4) + b"abcd"
stream = data + ping + bad
segs = [stream[:3000], stream[3000:]]          # the first frame ends in the second segment
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
seq = 1
for i, p in enumerate(segs):
    pkt = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + \
        ip4("198.18.0.1", "198.18.0.2", 6, tcp(7000, 41000, seq, p))
    seq += len(p)
    out.write(struct.pack("<IIII", 1000 + i, 0, len(pkt), len(pkt)) + pkt)
PY
# sy FILTER FIELD: the field's values in the synthetic capture, one per line.
sy() {
	tshark -X lua_script:"$LUA" -r "$T/synth.pcap" -Y "$1" -T fields -E occurrence=a \
		-E aggregator=' ' -e "$2" 2>/dev/null | tr ' ' '\n' | grep -v '^$'
}
n=$(sy 'tunvnet.type == 5' tunvnet.length | head -1)
check "synthetic: the frame split over two segments is reassembled ($n)" [ "$n" = 20050 ]
n=$(sy tunvnet.vnet_hdr tunvnet.vnet.gso_size)
check "synthetic: the virtio-net header is decoded (gso_size $n)" [ "$n" = 1448 ]
n=$(sy tunvnet.vnet_hdr tunvnet.vnet.gso_type)
check "synthetic: GSO type TCPv4 ($n)" [ "$n" = 0x01 ]
n=$(sy 'tunvnet.vnet_hdr && tcp.dstport == 5201' tcp.len | grep -cx 20000)
check "synthetic: the super-packet behind it is TCP to port 5201, 20000 bytes" [ "$n" = 1 ]
n=$(sy 'tunvnet.flags.forwarded == 1 && icmp.type == 8' frame.number | wc -l)
check "synthetic: a forwarded DATA frame and its ICMP packet" [ "$n" = 1 ]
n=$(sy tunvnet.bad_version frame.number | wc -l)
check "synthetic: an unknown version is flagged" [ "$n" = 1 ]

finish
