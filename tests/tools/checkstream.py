#!/usr/bin/env python3
"""checkstream — a TCP stream whose every byte is checked, for tests that break or change
something under it (a daemon restart, a dead node, a move, a substrate switch, a fault).

  checkstream.py recv ADDR PORT [PROGRESS] [--timeout S]
      listen on ADDR PORT, take one connection, hash all it sends until it closes, then
      close and print "BYTES SHA256". PROGRESS, when given, is a file that gets the byte
      count every 0.1 s (and the total at the end).

  checkstream.py send ADDR PORT (STOP | --mib N | --seconds S) [options]
      connect (retrying for 30 s), send blocks (each different: 64 KiB when paced,
      1 MiB when as fast as it goes) until
        STOP            the file STOP exists (paced: a 5 ms pause after each block,
                        about 10 MB/s, unless --rate says otherwise)
        --mib N         N MiB have gone
        --seconds S     S seconds have passed since the connection was made
      then shut down its sending half, wait until the receiver closes and print
      "BYTES SHA256 SECONDS" (SECONDS: from the connection to the receiver's close).
    options:
      --rate MB         at most MB megabytes (10^6 B) per second on average since the
                        connection (a sender that fell behind catches up); 0 (the default
                        but for STOP): as fast as it goes
      --fault-at MIB DIR
                        once MIB MiB have gone, create the file DIR/fault and wait until
                        DIR/faulted exists (30 s at most) before sending on: the test
                        breaks something at that point of the stream, then says so
      --timeout S       a send or receive that makes no progress for S seconds ends the
                        stream in error (default 120); recv takes it too

The first two fields of the two lines must be equal: then every byte arrived, in order,
once. A connection reset or timeout ends either side with status 1 and a message on
stderr that says how many bytes had gone."""
import argparse
import hashlib
import os
import socket
import struct
import sys
import time

PACED_BLOCK = 1 << 16  # small blocks pace smoothly
FAST_BLOCK = 1 << 20  # large ones cost fewer system calls
STOP_GAP = 0.005  # the pause after each block of a STOP stream without --rate


def fail(what, addr, port, n, err):
    sys.exit("checkstream %s %s port %d: %s after %d bytes" % (what, addr, port, err, n))


def recv(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(1)
    c, _ = s.accept()
    c.settimeout(a.timeout)
    h, n, last = hashlib.sha256(), 0, 0.0
    buf = bytearray(1 << 20)
    try:
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            h.update(memoryview(buf)[:k])
            n += k
            now = time.monotonic()
            if a.progress and now - last > 0.1:
                with open(a.progress + ".tmp", "w") as f:
                    f.write("%d\n" % n)
                os.replace(a.progress + ".tmp", a.progress)
                last = now
    except OSError as e:
        fail("recv", a.addr, a.port, n, e)
    if a.progress:
        with open(a.progress, "w") as f:
            f.write("%d\n" % n)
    c.close()
    print(n, h.hexdigest())


def connect(addr, port):
    end = time.monotonic() + 30
    while True:
        try:
            return socket.create_connection((addr, port), timeout=2)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def send(a):
    try:
        s = connect(a.addr, a.port)
    except OSError as e:
        fail("send", a.addr, a.port, 0, "cannot connect: %s" % e)
    s.settimeout(a.timeout)
    rate = a.rate * 1e6 if a.rate else 0
    gap = STOP_GAP if a.stop and a.rate is None else 0
    total = a.mib << 20 if a.mib is not None else None
    fault_at = int(a.fault_at[0]) << 20 if a.fault_at else None
    seed = os.urandom(PACED_BLOCK if rate or gap else FAST_BLOCK)
    h, n, i, t0 = hashlib.sha256(), 0, 0, time.monotonic()
    try:
        while True:
            if a.stop and os.path.exists(a.stop):
                break
            if total is not None and n >= total:
                break
            if a.seconds is not None and time.monotonic() - t0 >= a.seconds:
                break
            if n == fault_at:
                fault_point(a.fault_at[1])
            block = struct.pack("<Q", i) + seed[8:]  # every block differs
            h.update(block)
            s.sendall(block)
            n += len(block)
            i += 1
            if rate:
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            elif gap:
                time.sleep(gap)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # the receiver closes when it has read everything
    except OSError as e:
        fail("send", a.addr, a.port, n, e)
    print(n, h.hexdigest(), "%.2f" % (time.monotonic() - t0))


def fault_point(tdir):
    open(os.path.join(tdir, "fault"), "w").close()
    end = time.monotonic() + 30
    while not os.path.exists(os.path.join(tdir, "faulted")):
        if time.monotonic() > end:
            print("checkstream send: no %s/faulted after 30 s, sending on" % tdir,
                  file=sys.stderr)
            break
        time.sleep(0.05)


class Help(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        print(__doc__)
        sys.exit(0)


def main():
    p = argparse.ArgumentParser(
        prog="checkstream.py", add_help=False,
        usage="checkstream.py recv ADDR PORT [PROGRESS] [--timeout S]\n"
              "       checkstream.py send ADDR PORT (STOP | --mib N | --seconds S) "
              "[--rate MB] [--fault-at MIB DIR] [--timeout S]\n"
              "       (checkstream.py -h says all)")
    p.add_argument("-h", "--help", action=Help, nargs=0)
    p.add_argument("side", choices=("recv", "send"))
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("file", nargs="?", help=argparse.SUPPRESS)  # PROGRESS or STOP
    p.add_argument("--mib", type=int)
    p.add_argument("--seconds", type=float)
    p.add_argument("--rate", type=float)
    p.add_argument("--fault-at", nargs=2, metavar=("MIB", "DIR"))
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    if a.side == "recv":
        if a.mib is not None or a.seconds is not None or a.rate is not None or a.fault_at:
            p.error("recv takes only PROGRESS and --timeout")
        a.progress = a.file
        recv(a)
        return
    a.stop = a.file
    if sum(x is not None for x in (a.stop, a.mib, a.seconds)) != 1:
        p.error("send wants one of STOP, --mib N, --seconds S")
    if a.fault_at and not a.fault_at[0].isdigit():
        p.error("--fault-at wants a whole number of MiB")
    send(a)


if __name__ == "__main__":
    main()
