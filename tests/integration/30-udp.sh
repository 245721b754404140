#!/usr/bin/env bash
# UDP request/response between jobs on different nodes, IPv4 and IPv6: every request gets
# its reply, byte for byte (sizes up to 3000 B, so fragmented datagrams too).
. "$(dirname "$0")/lib.sh"
need python3
PORT=5002
COUNT=100   # requests per family

cluster_up 2
job "$P-j1" 1 0
job "$P-j2" 2 0
check "both nodes route both jobs" wait_jobs_routed 30

# echo server on both VIPs of $P-j2, until killed or 60 s pass
spawn jx "$P-j2" timeout 60 python3 -c '
import select, socket, sys
socks = []
for fam, addr in ((socket.AF_INET, sys.argv[1]), (socket.AF_INET6, sys.argv[2])):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, int(sys.argv[3])))
    socks.append(s)
print("ready", flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        d, a = s.recvfrom(65535)
        s.sendto(d, a)' "${VIP4[$P-j2]}" "${VIP6[$P-j2]}" $PORT >"$T/srv"
wait_until 30 grep -q ready "$T/srv" || bad "UDP echo server did not start"

for fam in 4 6; do
	if [ $fam = 4 ]; then dst=${VIP4[$P-j2]}; else dst=${VIP6[$P-j2]}; fi
	out=$(jx "$P-j1" timeout 60 python3 -c '
import os, socket, sys
dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)   # a reply late on a busy machine is still a reply
got = 0
sizes = (16, 512, 1400, 3000)
for i in range(count):
    req = i.to_bytes(4, "big") + os.urandom(sizes[i % len(sizes)] - 4)
    s.sendto(req, (dst, port))
    try:
        while True:
            rep = s.recv(65535)
            if rep[:4] == req[:4]:
                break
    except socket.timeout:
        continue
    got += rep == req
print(got)' "$dst" $PORT $COUNT 2>&1)
	if [ "$out" = "$COUNT" ]; then
		ok "UDP/IPv$fam $P-j1 (n1) <-> $P-j2 (n2): $COUNT/$COUNT replies, intact"
	else
		bad "UDP/IPv$fam $P-j1 (n1) <-> $P-j2 (n2): ${out:-no} of $COUNT replies"
	fi
done

finish
