#!/usr/bin/env bash
# Super-packets with offloads on, off and mixed. Nodes n1 and n2 run with offload = on
# (TUN with virtio-net header, TSO / USO), n3 and n4 with offload = off (plain packets,
# software segmentation of what arrives as a super-packet). Across every kind of pair —
# on->on, on->off, off->on, off->off, and local switching on an "on" and an "off" node —
# TCP streams arrive intact (sha256 on both ends, IPv4 and IPv6), iperf3 TCP and UDP run,
# UDP sent with UDP_SEGMENT (USO super-packets) arrives datagram by datagram intact, and
# no job's kernel saw a bad checksum (InCsumErrors) nor any daemon a malformed frame.
# timeout: 300
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

need iperf3 python3 sha256sum
export VNET_OFFLOAD_OFF="3 4"
cluster_up 4
job "$P-j1" 1 0
job "$P-j2" 2 0
job "$P-j3" 3 0
job "$P-j4" 4 0
job "$P-j5" 1 1   # local partner on an "on" node
job "$P-j6" 3 1   # local partner on an "off" node
if wait_jobs_routed 20; then ok "every node routes every job VIP"; else bad "routes"; fi

xfer=$T/xfer.py
cat >"$xfer" <<'EOF'
# TCP and UDP transfers for the offload test: sha256 of a TCP stream; UDP datagrams that
# each carry their sequence number and a pattern derived from it, optionally sent with
# UDP_SEGMENT (one send, many datagrams: a USO super-packet when the device offloads it).
import hashlib, os, socket, struct, sys, time

UDP_SEGMENT = 103

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def payload(seq, size):
    head = struct.pack("!Q", seq)
    pat = hashlib.sha256(head).digest()
    body = (pat * (size // 32 + 1))[:size - 8]
    return head + body

cmd = sys.argv[1]
if cmd == "tcp-recv":
    fam, port, out = family(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    open(out, "w").write(f"{h.hexdigest()} {n}\n")
elif cmd == "tcp-send":
    host, port, path = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    for _ in range(50):
        try:
            s = socket.create_connection((host, port), timeout=30)
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("cannot connect")
    with open(path, "rb") as f:
        s.sendfile(f)
    s.close()
elif cmd == "udp-recv":
    # until EXPECT datagrams came, or the sender is done (the file DONE exists) and
    # nothing more came for 2 s: waits for the sender, not for a fixed time
    host, port, out, expect, done = sys.argv[2], int(sys.argv[3]), sys.argv[4], \
        int(sys.argv[5]), sys.argv[6]
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, port))
    s.settimeout(0.2)
    good = bad = 0
    seen = set()
    last, end = time.time(), time.time() + 300
    while good + bad < expect and time.time() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            if os.path.exists(done) and time.time() - last > 2:
                break
            continue
        last = time.time()
        seq = struct.unpack("!Q", b[:8])[0] if len(b) >= 8 else None
        if seq is not None and b == payload(seq, len(b)) and seq not in seen:
            good += 1
            seen.add(seq)
        else:
            bad += 1
    open(out, "w").write(f"{good} {bad}\n")
elif cmd == "udp-send":
    host, port, count, seg = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, port))
    size = seg if seg else 1200
    if seg:
        s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, seg)
    seq = 0
    for _ in range(count):
        # the last datagram of each send is shorter: the USO tail case
        sizes = [size] * 39 + [size // 2 + 9]
        bufs = [payload(seq + i, n) for i, n in enumerate(sizes)]
        seq += len(sizes)
        for b in [b"".join(bufs)] if seg else bufs:
            try:
                s.send(b)
            except OSError:
                time.sleep(0.001)
        time.sleep(0.0005)
EOF

head -c $((24 << 20)) /dev/urandom >"$T/data"
want=$(sha256sum "$T/data" | cut -d' ' -f1)
port=7100

# tcp_sha FROM TO FAMILY(4|6): a 24 MiB stream from job FROM to job TO, sha256 compared.
tcp_sha() {
	local from=$1 to=$2 fam=$3 dst got pid
	port=$((port + 1))
	if [ "$fam" = 6 ]; then dst=${VIP6[$to]}; else dst=${VIP4[$to]}; fi
	rm -f "$T/got"
	jx "$to" python3 "$xfer" tcp-recv "$dst" "$port" "$T/got" &
	pid=$!
	wait_until 30 listening "$to" "$port" || bad "the TCP receiver does not listen"
	timeout 60 ip netns exec "$from" python3 "$xfer" tcp-send "$dst" "$port" "$T/data"
	wait "$pid"
	got=$(cut -d' ' -f1 "$T/got" 2>/dev/null)
	if [ "$got" = "$want" ]; then
		ok "TCP/IPv$fam $from -> $to: 24 MiB arrived intact (sha256)"
	else
		bad "TCP/IPv$fam $from -> $to: sha256 ${got:-none} ($(cut -d' ' -f2 "$T/got" 2>/dev/null) bytes), want $want"
	fi
}

# iperf FROM TO [-u ...]: iperf3 for a second; ok if bytes arrived.
iperf() {
	local from=$1 to=$2 pid bytes what=TCP
	shift 2
	[ "${1:-}" = -u ] && what=UDP
	jx "$to" iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
	pid=$!
	wait_until 30 listening "$to" 5301 || bad "iperf3 -s does not listen"
	bytes=$(timeout 30 ip netns exec "$from" iperf3 -c "${VIP4[$to]}" -p 5301 -t 1 -J "$@" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["end"]["sum_received"]["bytes"])' 2>/dev/null)
	wait "$pid" 2>/dev/null
	if [ "${bytes:-0}" -gt 0 ]; then
		ok "iperf3 $what $from -> $to: $((bytes / 1000000)) MB received"
	else
		bad "iperf3 $what $from -> $to: nothing received"
	fi
}

# udp_seg FROM TO FAMILY SEG: 100 sends of 40 datagrams (UDP_SEGMENT SEG, 0: plain sends
# of one datagram); every datagram that arrives must be intact, most must arrive.
udp_seg() {
	local from=$1 to=$2 fam=$3 seg=$4 dst pid good badn
	port=$((port + 1))
	if [ "$fam" = 6 ]; then dst=${VIP6[$to]}; else dst=${VIP4[$to]}; fi
	rm -f "$T/udp" "$T/udp.done"
	jx "$to" python3 "$xfer" udp-recv "$dst" "$port" "$T/udp" 4000 "$T/udp.done" &
	pid=$!
	wait_until 30 listening "$to" "$port" udp || bad "the UDP receiver did not bind"
	timeout 60 ip netns exec "$from" python3 "$xfer" udp-send "$dst" "$port" 100 "$seg"
	touch "$T/udp.done"
	wait "$pid"
	read -r good badn <"$T/udp" 2>/dev/null
	if [ "${good:-0}" -ge 2000 ] && [ "${badn:-1}" = 0 ]; then
		ok "UDP/IPv$fam $from -> $to (segment size $seg): $good of 4000 datagrams, all intact"
	else
		bad "UDP/IPv$fam $from -> $to (segment size $seg): ${good:-0} intact, ${badn:-?} bad"
	fi
}

j1=$P-j1 j2=$P-j2 j3=$P-j3 j4=$P-j4 j5=$P-j5 j6=$P-j6
# on -> on, on -> off, off -> on, off -> off, local on, local off; both families
tcp_sha "$j1" "$j2" 4
tcp_sha "$j2" "$j1" 6
tcp_sha "$j1" "$j3" 4
tcp_sha "$j1" "$j3" 6
tcp_sha "$j3" "$j1" 4
tcp_sha "$j4" "$j2" 6
tcp_sha "$j3" "$j4" 4
tcp_sha "$j4" "$j3" 6
tcp_sha "$j1" "$j5" 4
tcp_sha "$j5" "$j1" 6
tcp_sha "$j3" "$j6" 4

iperf "$j1" "$j2"
iperf "$j1" "$j3"
iperf "$j3" "$j1"
iperf "$j3" "$j4"
iperf "$j1" "$j2" -u -b 200M -l 1400
iperf "$j1" "$j3" -u -b 200M -l 1400
iperf "$j3" "$j2" -u -b 200M -l 1400
iperf "$j3" "$j4" -u -b 200M -l 64

# USO super-packets: whole into an "on" TUN, cut in software for an "off" one
udp_seg "$j1" "$j2" 4 1200
udp_seg "$j1" "$j3" 4 1200
udp_seg "$j2" "$j4" 6 1000
udp_seg "$j1" "$j5" 6 1200
udp_seg "$j3" "$j1" 4 1200
udp_seg "$j3" "$j2" 6 0

# Checksums right on both sides: no job's kernel counted a bad one.
csum_errors() {
	jx "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
		/^(Tcp|Udp|UdpLite): [A-Z]/ { for (i = 2; i <= NF; i++) name[$1, i] = $i; next }
		/^(Tcp|Udp|UdpLite): [0-9-]/ { for (i = 2; i <= NF; i++)
			if (name[$1, i] == "InCsumErrors") s += $i; next }
		/^Udp6InCsumErrors|^UdpLite6InCsumErrors/ { s += $2 }
		END { print s + 0 }'
}
for j in "$j1" "$j2" "$j3" "$j4" "$j5" "$j6"; do
	n=$(csum_errors "$j")
	check "no checksum error in $j's kernel (InCsumErrors $n)" test "$n" = 0
done
for k in 1 2 3 4; do
	m=$(stat "$k" drops.malformed)
	check "n$k dropped no malformed packet or header (${m:-?})" test "${m:-x}" = 0
done

# The "on" nodes did carry super-packets, the "off" ones did not.
avg() {
	local p b
	p=$(stat "$1" counters.tun_rx_packets)
	b=$(stat "$1" counters.tun_rx_bytes)
	echo $(( ${b:-0} / (${p:-0} + 1) ))
}
a1=$(avg 1) a3=$(avg 3)
check "n1 (offload on) read super-packets from its TUNs (${a1} bytes on average)" test "$a1" -gt 3000
check "n3 (offload off) read plain packets only (${a3} bytes on average)" test "$a3" -le 1500
finish
