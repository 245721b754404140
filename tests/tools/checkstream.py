#!/usr/bin/env python3
"""checkstream — a long TCP stream whose every byte is checked, for tests that break
something under it (a daemon restart, a dead node, a move).

  checkstream.py recv ADDR PORT PROGRESS   listen, take one connection, hash all it sends;
                                           PROGRESS gets the byte count every 0.1 s; at
                                           the end prints "BYTES SHA256"
  checkstream.py send ADDR PORT STOP       connect (retrying for 30 s), send paced 64 KiB
                                           blocks (each different) until the file STOP
                                           exists, then close and print "BYTES SHA256"

The two lines must be equal. A connection reset or timeout ends either side with a
non-zero status and a message."""
import hashlib
import os
import socket
import struct
import sys
import time


def recv(addr, port, progress):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    c, _ = s.accept()
    c.settimeout(120)
    h, n, last = hashlib.sha256(), 0, 0.0
    buf = bytearray(1 << 16)
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        h.update(memoryview(buf)[:k])
        n += k
        now = time.monotonic()
        if now - last > 0.1:
            with open(progress + ".tmp", "w") as f:
                f.write("%d\n" % n)
            os.replace(progress + ".tmp", progress)
            last = now
    with open(progress, "w") as f:
        f.write("%d\n" % n)
    c.close()
    print(n, h.hexdigest())


def send(addr, port, stop):
    end = time.monotonic() + 30
    while True:
        try:
            s = socket.create_connection((addr, port), timeout=2)
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
    s.settimeout(120)
    seed = os.urandom(1 << 16)
    h, n, i = hashlib.sha256(), 0, 0
    while not os.path.exists(stop):
        block = struct.pack("<Q", i) + seed[8:]  # every block differs
        h.update(block)
        s.sendall(block)
        n += len(block)
        i += 1
        time.sleep(0.005)  # about 10 MB/s: a stream, not a flood
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the receiver closes when it has read everything
    print(n, h.hexdigest())


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("recv", "send"):
        sys.exit(__doc__)
    (recv if sys.argv[1] == "recv" else send)(sys.argv[2], int(sys.argv[3]), sys.argv[4])
