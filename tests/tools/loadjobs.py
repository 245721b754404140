#!/usr/bin/env python3
"""loadjobs — many job namespaces at once, for the load test (tests/integration/99-load.sh)
and scripts/soak: what a shell loop would take minutes to do, one process does in seconds.

  loadjobs.py make PREFIX N                 namespaces PREFIX0000.. (ip -batch)
  loadjobs.py attach SOCK PREFIX N VIP0 [--standby]
                                            attach namespace PREFIXi with VIP0 + i (IPv4 or
                                            IPv6), on one control connection per request;
                                            prints the time of each block of 100 attaches
  loadjobs.py detach SOCK VIP0 N            detach VIP0 + i, i < N
  loadjobs.py del PREFIX N                  delete the namespaces (ip -batch)
  loadjobs.py mem PID...                    per PID: "pid rss_kib hwm_kib fds"
  loadjobs.py count PREFIX                  namespaces named PREFIX*, and the interfaces
                                            other than lo in them (the jobs' TUNs)

Exit status 0 when every step succeeded; the first failure is printed and exits 1.
"""
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time


def die(msg):
    print("loadjobs: " + msg, file=sys.stderr)
    sys.exit(1)


def names(prefix, n):
    return ["%s%04d" % (prefix, i) for i in range(n)]


def ip_batch(lines):
    r = subprocess.run(["ip", "-batch", "-"], input="".join(l + "\n" for l in lines),
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        die("ip -batch: " + r.stderr.strip()[-300:])


def request(sock, req, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall((json.dumps(dict(version=1, **req)) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf.decode() or "{}")


def vip(base, i):
    return str(ipaddress.ip_address(base) + i)


def cmd_make(prefix, n):
    ns = names(prefix, int(n))
    ip_batch("netns add " + x for x in ns)


def cmd_attach(sock, prefix, n, base, *flags):
    ns, t0, tb, blocks = names(prefix, int(n)), time.time(), time.time(), []
    for i, x in enumerate(ns):
        req = {"cmd": "attach", "netns": x, "vip": vip(base, i)}
        if "--standby" in flags:
            req["standby"] = True
        rep = request(sock, req)
        if not rep.get("ok"):
            die("attach %s %s: %s: %s" % (x, req["vip"], rep.get("error"), rep.get("message")))
        if (i + 1) % 100 == 0 or i + 1 == len(ns):
            now = time.time()
            blocks.append("%.1f" % ((now - tb) * 1000 / (i + 1 - 100 * len(blocks))))
            tb = now
    print("attached %d jobs in %.2f s; ms per attach, by block of 100: %s"
          % (len(ns), time.time() - t0, " ".join(blocks)))


def cmd_detach(sock, base, n):
    for i in range(int(n)):
        rep = request(sock, {"cmd": "detach", "vip": vip(base, i)})
        if not rep.get("ok"):
            die("detach %s: %s: %s" % (vip(base, i), rep.get("error"), rep.get("message")))


def cmd_del(prefix, n):
    have = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    ip_batch("netns del " + x for x in names(prefix, int(n)) if x in have)


def status_kib(pid, key):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def cmd_mem(*pids):
    for p in pids:
        try:
            print(p, status_kib(p, "VmRSS"), status_kib(p, "VmHWM"),
                  len(os.listdir("/proc/%s/fd" % p)))
        except OSError as e:
            die("pid %s: %s" % (p, e.strerror))


def cmd_count(prefix):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    ns = sorted(x for x in os.listdir("/run/netns") if x.startswith(prefix)) \
        if os.path.isdir("/run/netns") else []
    home, ifs = os.open("/proc/self/ns/net", os.O_RDONLY), 0
    try:
        for x in ns:
            try:
                fd = os.open("/run/netns/" + x, os.O_RDONLY)
            except OSError:
                continue   # deleted meanwhile
            try:
                if libc.setns(fd, 0x40000000) != 0:   # CLONE_NEWNET
                    die("setns %s: %s" % (x, os.strerror(ctypes.get_errno())))
                ifs += len([n for _, n in socket.if_nameindex() if n != "lo"])
            finally:
                os.close(fd)
    finally:
        if libc.setns(home, 0x40000000) != 0:
            die("setns back: " + os.strerror(ctypes.get_errno()))
        os.close(home)
    print(len(ns), ifs)


CMDS = {"make": cmd_make, "attach": cmd_attach, "detach": cmd_detach, "del": cmd_del,
        "mem": cmd_mem, "count": cmd_count}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    CMDS[sys.argv[1]](*sys.argv[2:])
