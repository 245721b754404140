#!/usr/bin/env bash
# The Wireshark dissector scripts/tunvnet.lua (peer protocol version 2) on underlay
# captures: tcpdump on n1's eth0 while n2 joins and a job sends TCP and ping through the
# tunnel, once per data protection.
#   sealed (the default): the control link is TLS (tshark's own TLS fields), no control
#     frame is visible; the data link shows LINK_OPEN and LINK_OK, then DATA frames
#     flagged sealed with their key generation, counter and length, never taken for IP.
#   none: the same links, and the DATA frames' inner IP packets decoded down to TCP.
# Then a synthetic capture: a super-packet behind a virtio-net header split over two
# segments, sealed frames whose ciphertext is an IP packet, a frame of an unknown
# version, and a TLS 1.3 control link whose HELLOs are decoded with its key log.
# timeout: 360
. "$(dirname "$0")/lib.sh"
need python3 tcpdump tshark iperf3 openssl
LUA=$ROOT/scripts/tunvnet.lua
N1=198.18.0.1

# ts FILTER FIELDS...: tshark with the dissector on $PCAP, one line per matching packet.
ts() {
	local filter=$1 a=()
	shift
	for f in "$@"; do a+=(-e "$f"); done
	tshark -X lua_script:"$LUA" -r "$PCAP" -Y "$filter" -T fields -E occurrence=a \
		-E aggregator=' ' -E separator=' ' "${a[@]}" 2>/dev/null
}
count() { ts "$1" frame.number | wc -l; }
# data_from_n1: DATA frames n1 sent in $PCAP (a packet may hold several)
data_from_n1() { ts "ip.src == $N1 && tunvnet.type == 5" tunvnet.type | wc -w; }
tx_captured() { [ "$(data_from_n1)" = "$TX" ]; }
matches() { [[ $1 =~ $2 ]]; }  # matches STRING REGEX
# all_of GOOD TOTAL MIN: all TOTAL are good, and there are MIN or more
all_of() { [ "$1" = "$2" ] && [ "$2" -ge "$3" ]; }
# none_of BAD TOTAL: none of TOTAL is bad, and there are some
none_of() { [ "$1" = 0 ] && [ "$2" -gt 0 ]; }

# capture MODE: a cluster with data_protection = MODE whose n1 is captured into
# $T/MODE.pcap from before n2 joins; a job on each node, 2 MB of TCP, 3 pings. Sets PCAP,
# A and B (the jobs' VIPs), TX (the DATA frames n1 sent, its peer_tx_packets); the
# cluster and jobs are removed at the end.
capture() {
	local mode=$1 dump srv
	export VNET_DATA_PROTECTION=$mode
	PCAP=$T/$mode.pcap
	cluster_up 1
	spawn ip netns exec "$P-n1" tcpdump -i eth0 -s 0 -B 16384 -U --immediate-mode \
		-w "$PCAP" tcp port 7000 2>"$T/tcpdump.err"
	dump=$!
	wait_until 5 grep -q "listening on" "$T/tcpdump.err" || bad "$mode: tcpdump did not start"
	if timeout 60 "$CLUSTER" add 2 >"$T/add.log" 2>&1; then
		NODES=2
		ok "$mode: n2 joined while n1's underlay is captured"
	else
		abort "$mode: n2 did not join: $(tail -3 "$T/add.log")"
	fi
	job "$P-j1" 1 0
	job "$P-j2" 2 0
	check "$mode: both nodes route both jobs" wait_jobs_routed 10
	# DATA goes on the control link (TLS: not decodable here) until the data link is up;
	# a loaded machine may take a while to make it
	check "$mode: n1's data link to n2 is up" wait_until 30 eval \
		'[ "$(peer_field 1 n2 "sum(1 for l in e[\"links\"] if l[\"role\"] == \"data\")")" -ge 1 ]'
	A=${VIP4[$P-j1]}
	B=${VIP4[$P-j2]}
	spawn jx "$P-j2" iperf3 -s -B "$B" -p 5201 -1 >/dev/null 2>&1
	srv=$!
	listening() { jx "$P-j2" ss -Hltn "sport = :5201" | grep -q .; }
	wait_until 10 listening || bad "$mode: iperf3 server did not start"
	check "$mode: iperf3 through the tunnel" q jx "$P-j1" iperf3 -c "$B" -p 5201 -n 2M
	wait "$srv" 2>/dev/null
	jx "$P-j1" ping -c 3 -i 0.2 -q "$B" >/dev/null
	TX=$(stat 1 counters.peer_tx_packets)
	check "$mode: every DATA frame n1 sent is in the capture ($TX)" wait_until 20 tx_captured
	kill "$dump"
	wait "$dump" 2>/dev/null
	timeout 60 "$CLUSTER" down >/dev/null 2>&1
	# shellcheck disable=SC2034  # lib.sh's cleanup reads it
	NODES=0
	for j in "${JOBS[@]}"; do ip netns del "$j" 2>/dev/null; done
	JOBS=()
	VIP4=()
	unset VNET_DATA_PROTECTION
}

# frames: one line per tunvnet frame in $PCAP, from tshark's PDML:
#   packet stream src version type sealed(0|1) length generation counter sealed_length
#   name link protection inner_src inner_dst inner_tcp_dport inner_icmp_type  (- for none)
frames() {
	tshark -X lua_script:"$LUA" -r "$PCAP" -Y tunvnet -T pdml 2>/dev/null | python3 -c '
import io, sys
import xml.etree.ElementTree as ET

def val(proto, name):
    for f in proto.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return "-"

# names are shown as sent: not always UTF-8
for _, pkt in ET.iterparse(io.TextIOWrapper(sys.stdin.buffer, errors="replace")):
    if pkt.tag != "packet":
        continue
    protos = pkt.findall("proto")
    first = lambda n: next(p for p in protos if p.get("name") == n)
    outer = [val(first("frame"), "frame.number"), val(first("tcp"), "tcp.stream"),
             val(first("ip"), "ip.src")]
    cur = None
    for p in protos:  # a frame, then the inner packet it holds
        n = p.get("name")
        if n == "tunvnet":
            if cur:
                print(" ".join(cur))
            cur = outer + [val(p, "tunvnet." + k) for k in (
                "version", "type", "flags.sealed", "length", "seal.generation", "seal.counter",
                "sealed.length", "name", "link", "protection")] + ["-"] * 4
        elif cur and n in ("ip", "ipv6") and cur[13] == "-":
            cur[13], cur[14] = val(p, n + ".src"), val(p, n + ".dst")
        elif cur and n == "tcp":
            cur[15] = val(p, "tcp.dstport")
        elif cur and n in ("icmp", "icmpv6"):
            cur[16] = val(p, n + ".type")
    if cur:
        print(" ".join(cur))
    pkt.clear()'
}

# raw_data_frames STREAM: for each direction of TCP stream STREAM, its source address
# and the number of DATA frames in its raw bytes, parsed here without the dissector (in
# tshark's follow output the second node's lines start with a tab).
raw_data_frames() {
	tshark -r "$PCAP" -q -z "follow,tcp,raw,$1" 2>/dev/null | python3 -c '
import re, sys
lines = sys.stdin.read().split("\n")
nodes = [re.match(r"Node [01]: (.*):\d+$", l).group(1) for l in lines if l.startswith("Node ")]
for node, tab in zip(nodes, ("", "\t")):
    s = b"".join(bytes.fromhex(l[len(tab):]) for l in lines
                 if l.startswith(tab) and re.fullmatch(r"[0-9a-f]+", l[len(tab):]))
    n, off = 0, 0
    while off + 8 <= len(s):
        n += s[off + 1] == 5
        off += 8 + int.from_bytes(s[off + 4:off + 8], "big")
    print(node, n)'
}

# common_checks MODE: what both captures show; leaves $T/frames (frames' output) and
# DL (the data link's TCP stream).
common_checks() {
	local mode=$1 n t p want ip sent got
	check "$mode: tshark loads the dissector" q tshark -X lua_script:"$LUA" -r "$PCAP" -c 1
	n="$(count 'tls.handshake.type == 1') $(count 'tls.handshake.type == 2')"
	check "$mode: the control link opens with a TLS ClientHello and ServerHello ($n)" \
		[ "$n" = "1 1" ]
	n=$(count 'tls.record.opaque_type == 23')
	check "$mode: the control frames are TLS application data ($n packets)" [ "$n" -ge 4 ]
	frames >"$T/frames"
	t=$(wc -l <"$T/frames")
	n=$(awk '$5 ~ /^(1|3|4|8|9)$/' "$T/frames" | wc -l)
	check "$mode: no HELLO, PEERS, ROUTES or MIGRATE in the clear ($n of $t frames)" \
		none_of "$n" "$t"
	tshark -X lua_script:"$LUA" -r "$PCAP" -Y tls -T fields -e tcp.stream 2>/dev/null |
		sort -u >"$T/tls-streams"
	awk '{ print $2 }' "$T/frames" | sort -u >"$T/tv-streams"
	n="$(wc -l <"$T/tls-streams") $(wc -l <"$T/tv-streams") $(comm -12 "$T/tls-streams" "$T/tv-streams" | wc -l)"
	check "$mode: one TLS connection, one of tunvnet frames, none both ($n)" [ "$n" = "1 1 0" ]
	DL=$(head -1 "$T/tv-streams")
	n=$(awk '{ print $5 }' "$T/frames" | sort -un | tr '\n' ' ')
	# PING and PONG: the substrate chooser's probes on every data link
	check "$mode: LINK_OPEN, DATA, PING, PONG and LINK_OK decoded, nothing else ($n)" \
		[ "$n" = "2 5 6 7 10 " ]
	n=$(awk '$4 != 2' "$T/frames" | wc -l)
	check "$mode: frame version 2 everywhere ($n of $t others)" none_of "$n" "$t"
	n=$(count tunvnet.flags.sealed)
	p=$(count tunvnet)
	check "$mode: every packet with frames has their flags decoded ($n of $p)" all_of "$n" "$p" 1
	want=$([ "$mode" = sealed ] && echo 0x01 || echo 0x00)
	n=$(awk '$5 == 2 { print $3, $11, $12, $13 }' "$T/frames")
	check "$mode: LINK_OPEN from n2 names itself, link 1, protection $want ($n)" \
		[ "$n" = "198.18.0.2 n2 1 $want" ]
	n=$(ts 'tunvnet.type == 2' tunvnet.substrate tunvnet.mac)
	check "$mode: LINK_OPEN: substrate tcp and a 32-byte proof ($n)" \
		matches "$n" '^0 [0-9a-f]{64}$'
	n=$(awk '$5 == 10 { print $2, $3, $12 }' "$T/frames")
	check "$mode: n1 answers LINK_OK for link 1 on the same connection ($n)" \
		[ "$n" = "$DL $N1 1" ]
	n=$(count '_ws.malformed || tunvnet.malformed || tunvnet.bad_version')
	check "$mode: nothing malformed ($n of $p packets with frames)" none_of "$n" "$p"
	# frames split over TCP segments are reassembled: every DATA frame in the data link's
	# raw bytes is decoded
	raw_data_frames "$DL" >"$T/raw"
	check "$mode: the data link's raw bytes hold DATA frames both ways ($(tr '\n' ' ' <"$T/raw"))" \
		[ "$(awk '$2 > 0' "$T/raw" | wc -l)" = 2 ]
	while read -r ip sent; do
		got=$(awk -v ip="$ip" '$3 == ip && $5 == 5' "$T/frames" | wc -l)
		check "$mode: every DATA frame from $ip is decoded ($got of $sent)" [ "$got" = "$sent" ]
	done <"$T/raw"
	n=$(awk -v ip="$N1" '$3 == ip && $5 == 5' "$T/frames" | wc -l)
	check "$mode: the DATA frames from n1 are all those it sent ($n of $TX)" [ "$n" = "$TX" ]
}

# ---- a sealed cluster (the default) ----
capture sealed
common_checks sealed
F=$T/frames
# 2 MB in super-packets of up to 64 KB and 3 pings: at least some 30 DATA frames
D=$(awk '$5 == 5' "$F" | wc -l)
n=$(awk '$5 == 5 && $6 == 1' "$F" | wc -l)
check "sealed: every DATA frame is flagged sealed ($n of $D)" all_of "$n" "$D" 30
n=$(awk '$5 == 5 && $8 != "-" && $9 != "-" && $10 == $7 - 28' "$F" | wc -l)
check "sealed: every DATA frame shows generation, counter and sealed length = length - 28 ($n of $D)" \
	all_of "$n" "$D" 30
n=$(awk '$5 == 5 && $14 != "-"' "$F" | wc -l)
check "sealed: no sealed payload taken for an inner packet ($n of $D)" none_of "$n" "$D"
n=$(count 'tunvnet && (count(ip) > 1 || count(tcp) > 1 || icmp || ipv6)')
p=$(count tunvnet.sealed)
check "sealed: no packet with sealed frames holds a second IP header, TCP or ICMP ($n of $p)" \
	none_of "$n" "$p"
# each direction's counters run 0, 1, 2, ... over its sealed frames, DATA and the
# chooser's PING / PONG probes (a frame not decoded shows as a gap)
for ip in $N1 198.18.0.2; do
	n=$(awk -v ip="$ip" '$3 == ip && $5 ~ /^(5|6|7)$/ { if ($9 != i) bad++; i++ } END { print i + 0, bad + 0 }' "$F")
	check "sealed: the counters from $ip are 0, 1, 2, ... (frames, gaps: $n)" matches "$n" '^[1-9][0-9]* 0$'
done
n=$(ts 'tunvnet.type == 5' _ws.col.Info | grep -c 'DATA sealed gen [0-9]* ctr [0-9]* ([0-9]* bytes)')
check "sealed: the Info column says what a sealed DATA frame is ($n packets)" [ "$n" -ge 1 ]

# ---- a cluster with data_protection = none: the DATA frames' packets decoded ----
capture none
common_checks none
F=$T/frames
D=$(awk '$5 == 5' "$F" | wc -l)
n=$(awk '$5 == 5 && ($6 != 0 || $8 != "-" || $10 != "-")' "$F" | wc -l)
check "none: no DATA frame flagged or decoded as sealed ($n of $D)" none_of "$n" "$D"
n=$(awk '$5 == 5 && $16 == 5201' "$F" | wc -l)
check "none: DATA frames hold the inner TCP to port 5201, dissected by Wireshark ($n)" [ "$n" -ge 30 ]
n=$(awk '$5 == 5 && $17 == 8' "$F" | wc -l)
check "none: and the 3 pings ($n)" [ "$n" = 3 ]
inner=$(ts "tunvnet.type == 5 && tcp.flags.syn == 1 && tcp.flags.ack == 0" ip.src ip.dst |
	head -1)
check "none: the inner SYN is from $A to $B ($inner)" [ "$inner" = "$N1 $A 198.18.0.2 $B" ]
n=$(awk -v ip="$N1" -v a="$A" '$3 == ip && $5 == 5 && $14 == a' "$F" | wc -l)
check "none: every DATA frame from n1 holds a packet from $A ($n of $TX)" [ "$n" = "$TX" ]

# ---- a synthetic capture ----
PCAP=$T/synth.pcap
if ! sh "$ROOT/scripts/vnet-ca" init "$T/ca" >/dev/null 2>&1 ||
   ! sh "$ROOT/scripts/vnet-ca" issue "$T/ca" n2 >/dev/null 2>&1; then
	abort "vnet-ca cannot make a certificate"
fi
python3 - "$PCAP" "$T/ca/n2.crt" "$T/ca/n2.key" "$T/keylog" >"$T/synth.sealed" <<'PY' || abort "no capture"
import socket, ssl, struct, sys

out_path, cert, key, keylog = sys.argv[1:5]

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def tcp(sport, dport, seq, payload, ack=1, flags=0x18):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0) + payload

def frame(ftype, flags, body, version=2):
    return struct.pack("!BBHI", version, ftype, flags, len(body)) + body

def name(s):
    return bytes([len(s)]) + s.encode()

out = open(out_path, "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
clock = [1000]

def packet(src, dst, seg):
    pkt = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip4(src, dst, 6, seg)
    clock[0] += 1
    out.write(struct.pack("<IIII", clock[0], 0, len(pkt), len(pkt)) + pkt)

# a TCP connection from 198.18.0.1:cport to 198.18.0.2:7000, opened with a handshake, then
# segs: ("c" | "s", bytes), each one segment from the client or the server
def conn(cport, segs):
    c, s = ("198.18.0.1", cport), ("198.18.0.2", 7000)
    seq = {"c": 100, "s": 5000}
    packet(c[0], s[0], tcp(c[1], s[1], seq["c"] - 1, b"", 0, 0x02))
    packet(s[0], c[0], tcp(s[1], c[1], seq["s"] - 1, b"", seq["c"], 0x12))
    packet(c[0], s[0], tcp(c[1], s[1], seq["c"], b"", seq["s"], 0x10))
    for d, p in segs:
        a, b = (c, s) if d == "c" else (s, c)
        packet(a[0], b[0], tcp(a[1], b[1], seq[d], p, seq["s" if d == "c" else "c"]))
        seq[d] += len(p)

# 1. a plain data link (port 41000): LINK_OPEN and LINK_OK for link 7; a 20000-byte TCP
# super-packet behind its virtio-net header (little-endian: GSO TCPv4, hdr_len 40,
# gso_size 1448, csum_start 20, csum_offset 16), a forwarded ping and a frame of an
# unknown version whose body would be an IPv6 header, split over two segments
link_open = frame(2, 0, name("n1") + struct.pack("!QBB", 7, 0, 0) + b"\x11" * 32)
link_ok = frame(10, 0, struct.pack("!Q", 7) + b"\x22" * 32)
inner = ip4("198.19.1.10", "198.19.2.10", 6, tcp(40000, 5201, 1000, b"x" * 20000))
vnet = struct.pack("<BBHHHH", 1, 1, 40, 1448, 20, 16)
icmp = ip4("198.19.1.10", "198.19.2.10", 1, b"\x08\0\xf7\xfd\0\1\0\1")
stream = frame(5, 0x0020, vnet + inner) + frame(5, 0x0010, icmp) + \
    frame(5, 0, b"abcd", version=9)
conn(41000, [("c", link_open), ("s", link_ok), ("c", stream[:3000]), ("c", stream[3000:])])

# 2. a sealed data link (port 41001): two sealed DATA frames that would show that IPv4
# ping if taken for anything but sealed: the first is the whole packet (generation and
# counter are its first 12 bytes), the second has generation 3, counter 42 and the
# packet as its "ciphertext". Prints generations, counters and ciphertext lengths.
def sealed(flags, payload):
    return frame(5, flags | 0x8000, payload + b"\x33" * 16)
link_open = frame(2, 0, name("n1") + struct.pack("!QBB", 8, 0, 1) + b"\x11" * 32)
link_ok = frame(10, 0, struct.pack("!Q", 8) + b"\x22" * 32)
conn(41001, [("c", link_open), ("s", link_ok),
             ("c", sealed(0, icmp) + sealed(0x0010, struct.pack("!IQ", 3, 42) + icmp))])
gen, ctr = struct.unpack("!IQ", icmp[:12])
print("%d 3 / %d 42 / %d 28 " % (gen, ctr, len(icmp) - 12))

# 3. a control link (port 41002): TLS 1.3 (Python's ssl over memory BIOs, the session's
# keys logged), a HELLO from each side inside
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(cert, key)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
cctx.keylog_filename = keylog
for ctx in (sctx, cctx):
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
bio = [ssl.MemoryBIO() for _ in range(4)]
cl = cctx.wrap_bio(bio[0], bio[1], server_hostname="n2")
sv = sctx.wrap_bio(bio[2], bio[3], server_side=True)
segs = []
def pump():
    for d, src, dst in (("c", bio[1], bio[2]), ("s", bio[3], bio[0])):
        b = src.read()
        if b:
            segs.append((d, b))
            dst.write(b)
def step(f):
    try:
        f()
    except ssl.SSLWantReadError:
        pass
for _ in range(5):
    step(cl.do_handshake)
    pump()
    step(sv.do_handshake)
    pump()
def hello(n, a):  # listen address a:7000, data links sealed, substrate tcp
    return frame(1, 0, name(n) + b"\x04" + socket.inet_aton(a) + struct.pack("!HBI", 7000, 1, 1))
cl.write(hello("n1", "198.18.0.1"))
pump()
step(lambda: sv.read(4096))
sv.write(hello("n2", "198.18.0.2"))
pump()
step(lambda: cl.read(4096))
conn(41002, segs)
PY
# sy FILTER FIELD [TSHARK OPTIONS]: the field's values in the synthetic capture, one a line.
sy() {
	tshark -X lua_script:"$LUA" -r "$PCAP" "${@:3}" -Y "$1" -T fields -E occurrence=a \
		-E aggregator=' ' -e "$2" 2>/dev/null | tr ' ' '\n' | grep -v '^$'
}
n=$(sy 'tunvnet.type == 5 && tcp.srcport == 41000' tunvnet.length | head -1)
check "synthetic: the frame split over two segments is reassembled ($n)" [ "$n" = 20050 ]
n=$(sy tunvnet.vnet_hdr tunvnet.vnet.gso_size)
check "synthetic: the virtio-net header is decoded (gso_size $n)" [ "$n" = 1448 ]
n=$(sy tunvnet.vnet_hdr tunvnet.vnet.gso_type)
check "synthetic: GSO type TCPv4 ($n)" [ "$n" = 0x01 ]
n=$(sy 'tunvnet.vnet_hdr && tcp.dstport == 5201' tcp.len | grep -cx 20000)
check "synthetic: the super-packet behind it is TCP to port 5201, 20000 bytes" [ "$n" = 1 ]
n=$(sy 'tunvnet.flags.forwarded == 1 && icmp.type == 8' frame.number | wc -l)
check "synthetic: a forwarded DATA frame and its ICMP packet" [ "$n" = 1 ]
n="$(sy tunvnet.bad_version frame.number | wc -l): $(sy tunvnet.bad_version tunvnet.version | tr '\n' ' ')"
check "synthetic: the frame of version 9 is flagged ($n)" [ "$n" = "1: 2 2 9 " ]
n=$(sy '_ws.malformed || tunvnet.malformed' frame.number | wc -l)
p=$(sy tunvnet frame.number | wc -l)
check "synthetic: its body is not guessed at: nothing malformed ($n of $p)" none_of "$n" "$p"
n=$(sy 'tcp.srcport == 41000 || tcp.dstport == 41000' tunvnet.link | tr '\n' ' ')
check "synthetic: LINK_OPEN and LINK_OK of link 7 ($n)" [ "$n" = "7 7 " ]
n=$(sy 'tcp.srcport == 41001 && tunvnet.type == 5' tunvnet.seal.generation | tr '\n' ' ')
n="$n/ $(sy 'tcp.srcport == 41001 && tunvnet.type == 5' tunvnet.seal.counter | tr '\n' ' ')"
n="$n/ $(sy 'tcp.srcport == 41001 && tunvnet.type == 5' tunvnet.sealed.length | tr '\n' ' ')"
check "synthetic: sealed frames' generations, counters and lengths ($n)" \
	[ "$n" = "$(cat "$T/synth.sealed")" ]
n=$(sy 'tcp.srcport == 41001 && (icmp || count(ip) > 1)' frame.number | wc -l)
check "synthetic: a sealed payload that holds an IP packet is not shown as one ($n)" [ "$n" = 0 ]
n=$(sy 'tcp.port == 41002 && tls.handshake.type == 1' frame.number | wc -l)
n="$n $(sy 'tcp.port == 41002 && tunvnet' frame.number | wc -l)"
check "synthetic: a TLS control link goes to the TLS dissector, no frames seen (hellos, frames: $n)" \
	[ "$n" = "1 0" ]
n=$(sy 'tcp.port == 41002 && tunvnet.type == 1' tunvnet.name -o tls.keylog_file:"$T/keylog" | tr '\n' ' ')
check "synthetic: with the key log, TLS hands the HELLOs back decrypted ($n)" [ "$n" = "n1 n2 " ]
n=$(tshark -X lua_script:"$LUA" -r "$PCAP" -o tls.keylog_file:"$T/keylog" -Y 'tunvnet.type == 1' \
	-T fields -e tunvnet.addr -e tunvnet.port -e tunvnet.protection.sealed \
	-e tunvnet.substrates.tcp 2>/dev/null | head -1 | tr '\t' ' ')
check "synthetic: HELLO: listen address, data links sealed, substrate tcp ($n)" \
	[ "$n" = "198.18.0.1 7000 1 1" ]

finish
