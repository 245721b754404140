#!/usr/bin/env python3
"""underlay.py — hosts on the underlay that attack tunvnet's peer links, for the
integration tests (60-64). Each mode runs until killed and writes one line per event to
--log (flushed), so that a test can wait for what happened.

  relay     --listen A:P --to B:P [--flip | --hold FILE [--cut FILE2] [--cut-reply FILE3]]
            forwards byte streams between whoever dials it and B, holding no credential
            (a node that seeds A gets a link to B's node, TLS end to end); --flip alters
            one byte in each direction of every connection (the TLS handshake must fail).
            --hold FILE, for plain HTTP to etcd: while FILE exists, what etcd sends on a
            connection that asked for a watch (POST /v3/watch) is held back, and sent on
            once FILE is gone ("held" and "released N bytes" logged): a watch that lags
            behind the answers to the client's other requests. --cut FILE2: while
            FILE2 exists, a txn (POST /v3/kv/txn) holding FILE2's text (e.g. a key in
            base64; empty: any txn) is cut: its connection closed before the request
            reaches etcd ("cut txn" logged; libcurl sends a request that died on a reused
            connection once more, and that is cut too). --cut-reply FILE3: the same, but
            the txn reaches etcd and its answer is cut ("cut txn reply"): the client
            cannot know whether it was applied.
  tls-relay --listen A:P --to B:P --ca F --cert F --key F [--as NAME] [--inject SRC DST]
            terminates TLS on both sides with its own valid certificate and relays the
            frames it decrypts. Without --as it passes them unchanged (HELLOs name the
            real nodes, not its certificate's name); with --as NAME it says HELLO as NAME
            itself (no listen address) and, with --inject, sends B's node one DATA frame
            with a UDP datagram SRC:9 -> DST:9 in its own name. Plain (data link)
            connections are closed.
  mitm      --listen A:P --to B:P --cmd FILE
            a man in the middle: TLS (control) connections pass unchanged; on a plain data
            link it parses frames and, when FILE holds "ACTION DIR" (flip | drop | replay
            | insert; c2s = dialer to listener, s2c = back), applies ACTION to the next
            DATA frame in that direction, then deletes FILE and logs "done ACTION DIR".
  strangers --to B:P --sources A1,A2,... --count N --seconds S
            N connections from the source addresses that never finish a handshake: a third
            send nothing, a third a partial TLS ClientHello, a third a partial frame
            header. One closed by B is opened again after 0.5 s, for S seconds; then
            everything is closed. Logs the connections made and those B closed.
"""
import argparse
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time

FRAME_HDR = 8
TLS_RECORD = 0x16
T_HELLO, T_DATA = 1, 5

log_lock = threading.Lock()
log_file = None


def log(msg):
    with log_lock:
        log_file.write(msg + "\n")
        log_file.flush()


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def listener(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(hostport(addr))
    s.listen(128)
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def first_byte(c):
    try:
        b = c.recv(1, socket.MSG_PEEK)
    except OSError:
        return None
    return b[0] if b else None


# --- relay: bytes only ------------------------------------------------------------------

FLIP_AT = 40  # inside the ClientHello's / ServerHello's random: the transcript differs


def pump_bytes(src, dst, flip):
    off = 0
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if flip and off <= FLIP_AT < off + len(b):
                b = bytearray(b)
                b[FLIP_AT - off] ^= 0x01
                b = bytes(b)
            off += len(b)
            dst.sendall(b)
    except OSError:
        pass
    close_both(src, dst)


class HeldStream:
    """One relayed HTTP connection to etcd: whether it carries a watch (--hold)."""

    def __init__(self, n):
        self.n = n
        self.watch = False
        self.txn = False  # the last request was a txn
        self.cut_reply = False  # its answer is to be cut


def armed(path, chunk):
    """True when path exists and chunk holds its text (any chunk when it is empty)."""
    try:
        with open(path, "rb") as f:
            pat = f.read().strip()
    except OSError:
        return False
    return not pat or pat in chunk


def pump_up(src, dst, h, cut, cut_reply):
    """Client to etcd, noting a watch request (and cutting a txn, --cut)."""
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if b"POST /" in b:
                h.txn = b"POST /v3/kv/txn" in b
            if cut and h.txn and armed(cut, b):
                log(f"conn {h.n} cut txn")
                break
            if cut_reply and h.txn and armed(cut_reply, b):
                h.cut_reply = True
            if not h.watch and b"POST /v3/watch" in b:
                h.watch = True
                log(f"conn {h.n} watch")
            dst.sendall(b)
    except OSError:
        pass
    close_both(src, dst)


def pump_held(src, dst, h, hold):
    """etcd to client: a watch's bytes wait while the hold file exists."""
    held = []
    try:
        while True:
            holding = h.watch and os.path.exists(hold)
            if held and not holding:
                n = sum(len(x) for x in held)
                dst.sendall(b"".join(held))
                held = []
                log(f"conn {h.n} released {n} bytes")
            r, _, _ = select.select([src], [], [], 0.05)  # (closed: ValueError)
            if not r:
                continue
            b = src.recv(65536)
            if not b:
                break
            if h.cut_reply:
                log(f"conn {h.n} cut txn reply")
                break
            if holding:
                if not held:
                    log(f"conn {h.n} held")
                held.append(b)
            else:
                dst.sendall(b)
    except (OSError, ValueError):
        pass
    close_both(src, dst)


def run_relay(a):
    ls = listener(a.listen)
    log("ready")
    n = 0
    while True:
        c, peer = ls.accept()
        n += 1
        kind = "tls" if first_byte(c) == TLS_RECORD else "plain"
        try:
            u = socket.create_connection(hostport(a.to), timeout=5)
            u.settimeout(None)
        except OSError as e:
            log(f"conn {n} {kind} from {peer[0]}: cannot reach {a.to}: {e}")
            c.close()
            continue
        log(f"conn {n} {kind} from {peer[0]}{' flipped' if a.flip else ''}")
        if a.hold:
            h = HeldStream(n)
            threading.Thread(target=pump_up, args=(c, u, h, a.cut, a.cut_reply),
                             daemon=True).start()
            threading.Thread(target=pump_held, args=(u, c, h, a.hold), daemon=True).start()
            continue
        threading.Thread(target=pump_bytes, args=(c, u, a.flip), daemon=True).start()
        threading.Thread(target=pump_bytes, args=(u, c, a.flip), daemon=True).start()


# --- tls-relay: its own certificate, terminating TLS on both sides ----------------------

def hello_payload(name):
    nb = name.encode()
    # name, family 0 (no listen address) + port 0, flags SEALED, substrates: tcp
    return bytes([len(nb)]) + nb + b"\x00" + b"\x00\x00" + b"\x01" + struct.pack("!I", 1)


def ip_udp(src, dst, payload):
    udp = struct.pack("!HHHH", 9, 9, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xffff) + hdr[12:]
    return hdr + udp


def frame(t, flags, payload):
    return struct.pack("!BBHI", 2, t, flags, len(payload)) + payload


class FrameReader:
    def __init__(self, s):
        self.s, self.buf = s, b""

    def frames(self):
        """Reads what is there (one recv) and returns the whole frames; None at EOF."""
        b = self.s.recv(262144)
        if not b:
            return None
        self.buf += b
        out = []
        while len(self.buf) >= FRAME_HDR:
            v, t, fl, n = struct.unpack("!BBHI", self.buf[:FRAME_HDR])
            if len(self.buf) < FRAME_HDR + n:
                break
            out.append((t, fl, self.buf[FRAME_HDR:FRAME_HDR + n]))
            self.buf = self.buf[FRAME_HDR + n:]
        return out


def tls_session(a, c, n):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sctx.load_cert_chain(a.cert, a.key)
    sctx.load_verify_locations(a.ca)
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.num_tickets = 0
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.minimum_version = ssl.TLSVersion.TLSv1_3
    cctx.load_cert_chain(a.cert, a.key)
    cctx.load_verify_locations(a.ca)
    cctx.check_hostname = False
    try:
        c.settimeout(10)
        down = sctx.wrap_socket(c, server_side=True)
        dname = dict(x[0] for x in down.getpeercert()["subject"]).get("commonName")
        u = socket.create_connection(hostport(a.to), timeout=10)
        up = cctx.wrap_socket(u)
        uname = dict(x[0] for x in up.getpeercert()["subject"]).get("commonName")
        down.settimeout(None)
        up.settimeout(None)
    except (OSError, ssl.SSLError) as e:
        log(f"session {n}: TLS failed: {e}")
        c.close()
        return
    log(f"session {n}: TLS up with {dname} (dialer) and {uname} ({a.to})")
    readers = {down: FrameReader(down), up: FrameReader(up)}
    other = {down: up, up: down}
    names = {down: dname, up: uname}
    try:
        while True:
            ready = [s for s in (down, up) if s.pending()]
            if not ready:
                ready, _, _ = select.select([down, up], [], [])
            for s in ready:
                fs = readers[s].frames()
                if fs is None:
                    raise EOFError
                for t, fl, p in fs:
                    if t == T_HELLO:
                        log(f"session {n}: HELLO from {names[s]}"
                            f"{' replaced by ' + a.as_name if a.as_name else ' passed on'}")
                        if a.as_name:
                            p = hello_payload(a.as_name)
                    other[s].sendall(frame(t, fl, p))
                    if t == T_HELLO and a.as_name and a.inject and other[s] is up:
                        src, dst = a.inject
                        up.sendall(frame(T_DATA, 0, ip_udp(src, dst, b"relay-injected")))
                        log(f"session {n}: injected DATA {src} -> {dst}")
    except (OSError, EOFError, ssl.SSLError) as e:
        log(f"session {n}: closed ({e.__class__.__name__})")
    close_both(down, up)


def run_tls_relay(a):
    ls = listener(a.listen)
    log("ready")
    n = 0
    while True:
        c, peer = ls.accept()
        n += 1
        if first_byte(c) != TLS_RECORD:
            log(f"conn {n} plain from {peer[0]}: closed")
            c.close()
            continue
        threading.Thread(target=tls_session, args=(a, c, n), daemon=True).start()


# --- mitm: a frame-aware man in the middle on data links --------------------------------

class Mitm:
    def __init__(self, cmdfile):
        self.cmdfile = cmdfile
        self.lock = threading.Lock()

    def take(self, direction):
        """The pending action for direction, claimed (the file is removed), or None."""
        with self.lock:
            try:
                with open(self.cmdfile) as f:
                    w = f.read().split()
            except OSError:
                return None
            if len(w) != 2 or w[1] != direction:
                return None
            os.unlink(self.cmdfile)
            return w[0]


def pump_frames(m, src, dst, direction, n):
    hist = []
    try:
        while True:
            h = recv_exact(src, FRAME_HDR)
            v, t, fl, ln = struct.unpack("!BBHI", h)
            p = recv_exact(src, ln)
            act = m.take(direction) if t == T_DATA else None
            if act is None:
                dst.sendall(h + p)
            elif act == "flip":
                b = bytearray(p)
                b[12 + max(0, (ln - 28) // 2) if ln > 28 else ln // 2] ^= 0x01
                dst.sendall(h + bytes(b))
            elif act == "drop":
                pass
            elif act == "replay":
                dst.sendall(h + p)
                old = hist[0] if hist else h + p
                dst.sendall(old)
            elif act == "insert":
                dst.sendall(h + p)
                if ln >= 12:
                    gen, ctr = struct.unpack("!IQ", p[:12])
                    ins = struct.pack("!IQ", gen, ctr + 1) + p[12:]
                else:
                    ins = p
                dst.sendall(h + ins)
            if act:
                ctr = struct.unpack("!Q", p[4:12])[0] if ln >= 12 else -1
                log(f"done {act} {direction} conn {n} counter {ctr}")
            if t == T_DATA:
                hist.append(h + p)
                del hist[:-8]
    except (OSError, EOFError):
        pass
    close_both(src, dst)


def run_mitm(a):
    ls = listener(a.listen)
    m = Mitm(a.cmd)
    log("ready")
    n = 0
    while True:
        c, peer = ls.accept()
        n += 1
        fb = first_byte(c)
        try:
            u = socket.create_connection(hostport(a.to), timeout=5)
            u.settimeout(None)
        except OSError as e:
            log(f"conn {n}: cannot reach {a.to}: {e}")
            c.close()
            continue
        if fb == TLS_RECORD:
            log(f"conn {n} tls from {peer[0]}: passed unchanged")
            threading.Thread(target=pump_bytes, args=(c, u, False), daemon=True).start()
            threading.Thread(target=pump_bytes, args=(u, c, False), daemon=True).start()
        else:
            log(f"conn {n} data from {peer[0]}: frames watched")
            threading.Thread(target=pump_frames, args=(m, c, u, "c2s", n), daemon=True).start()
            threading.Thread(target=pump_frames, args=(m, u, c, "s2c", n), daemon=True).start()


# --- strangers --------------------------------------------------------------------------

CLIENT_HELLO_PART = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + \
    bytes(range(32))  # a record header promising 512 bytes, then the start of a ClientHello
FRAME_PART = bytes([2, 2, 0])  # three bytes of a LINK_OPEN header


class Slot:
    def __init__(self, kind, source):
        self.kind, self.source = kind, source
        self.sock, self.sent, self.reopen_at = None, False, 0.0


def run_strangers(a):
    dst = hostport(a.to)
    sources = a.sources.split(",")
    end = time.time() + a.seconds
    slots = [Slot(i % 3, sources[i % len(sources)]) for i in range(a.count)]
    made = closed = failed = 0
    last_log = 0.0
    log("ready")
    while time.time() < end:
        now = time.time()
        for sl in slots:
            if sl.sock is None and now >= sl.reopen_at:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.bind((sl.source, 0))
                    s.connect_ex(dst)
                except OSError:
                    s.close()
                    failed += 1
                    sl.reopen_at = now + 0.5
                    continue
                sl.sock, sl.sent = s, False
                made += 1
        live = [sl for sl in slots if sl.sock is not None]
        r, _, _ = select.select([sl.sock for sl in live], [], [], 0.1)
        for sl in live:
            if not sl.sent:
                try:
                    if sl.kind == 1:
                        sl.sock.send(CLIENT_HELLO_PART)
                    elif sl.kind == 2:
                        sl.sock.send(FRAME_PART)
                    sl.sent = True
                except BlockingIOError:
                    pass  # not connected yet
                except OSError:
                    sl.sent = True  # refused: the read below sees it
            if sl.sock in r:
                try:
                    b = sl.sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    b = b""
                if not b:
                    sl.sock.close()
                    closed += 1
                    sl.sock, sl.reopen_at = None, time.time() + 0.5
        if now - last_log >= 1:
            last_log = now
            log(f"made {made} closed_by_peer {closed} open {len(live)} failed {failed}")
    for sl in slots:
        if sl.sock is not None:
            sl.sock.close()
    log(f"done made {made} closed_by_peer {closed} failed {failed}")


def main():
    global log_file
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["relay", "tls-relay", "mitm", "strangers"])
    ap.add_argument("--listen")
    ap.add_argument("--to", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--hold")
    ap.add_argument("--cut")
    ap.add_argument("--cut-reply")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--as", dest="as_name")
    ap.add_argument("--inject", nargs=2)
    ap.add_argument("--cmd")
    ap.add_argument("--sources")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    log_file = open(a.log, "a")
    {"relay": run_relay, "tls-relay": run_tls_relay, "mitm": run_mitm,
     "strangers": run_strangers}[a.mode](a)


if __name__ == "__main__":
    main()
