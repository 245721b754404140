#!/usr/bin/env bash
# The control socket and vnetctl under abuse: no daemon behind the socket, malformed and
# oversized requests sent raw, VIPs the daemon must refuse; each gets a clear error and
# the daemon keeps answering. Every vnetctl command has a --help that exits 0.
. "$(dirname "$0")/lib.sh"
need python3
S1=$(sock 1)

# --help of the programs and of each vnetctl command (no daemon needed). The commands are
# the ones `vnetctl --help` lists, so that a new command is covered without editing this.
out=$(timeout 10 "$VNETCTL" --help 2>&1)
rc=$?
[ $rc = 0 ] && grep -q '^Usage: ' <<<"$out" && ok "vnetctl --help: exit 0, a usage line" ||
	bad "vnetctl --help: exit $rc"
cmds=$(sed -n '/^Commands:/,/^$/p' <<<"$out" | awk 'NR > 1 && NF { print $1 }')
n=$(wc -w <<<"$cmds")
# the 14 of this writing; fewer means the list was not read right
[ "$n" -ge 14 ] && ok "vnetctl --help lists $n commands: $(tr '\n' ' ' <<<"$cmds")" ||
	bad "vnetctl --help lists only $n commands: '$cmds'"
for c in $cmds; do
	out=$(timeout 10 "$VNETCTL" "$c" --help 2>&1)
	rc=$?
	# each command's help starts with its own usage line
	if [ $rc = 0 ] && { [ "$c" = help ] || grep -q "^Usage: vnetctl .*\b$c\b" <<<"$out"; }; then
		ok "vnetctl $c --help: exit 0, $(head -1 <<<"$out")"
	else
		bad "vnetctl $c --help: exit $rc: $(head -2 <<<"$out" | tr '\n' ' ')"
	fi
	[ "$c" = help ] && continue
	out2=$(timeout 10 "$VNETCTL" help "$c" 2>&1)
	[ $? = 0 ] && [ "$out2" = "$out" ] && ok "vnetctl help $c: the same text" ||
		bad "vnetctl help $c differs from vnetctl $c --help"
done
for p in "$TUNVNETD -h" "$CLUSTER --help" "$VNETUP --help"; do
	# shellcheck disable=SC2086
	out=$(timeout 10 $p 2>&1)
	rc=$?
	[ $rc = 0 ] && [ -n "$out" ] && ok "${p##*/}: exit 0" || bad "${p##*/}: exit $rc"
done
out=$(timeout 10 "$VNETCTL" -s "$S1" frobnicate 2>&1)
rc=$?
[ $rc = 2 ] && ok "vnetctl frobnicate: usage error, exit 2" || bad "vnetctl frobnicate: exit $rc: $out"

# no daemon: a missing socket, and a socket file nobody listens on
out=$(timeout 10 "$VNETCTL" -s "/run/tunvnet/$P-nosuch.sock" status 2>&1)
rc=$?
[ $rc != 0 ] && grep -qiE "$P-nosuch.sock|no such file" <<<"$out" &&
	ok "missing socket: exit $rc, '$out'" || bad "missing socket: exit $rc, '$out'"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/dead.sock"
out=$(timeout 10 "$VNETCTL" -s "$T/dead.sock" status 2>&1)
rc=$?
[ $rc != 0 ] && grep -qiE 'dead.sock|refused' <<<"$out" &&
	ok "socket without a daemon: exit $rc, '$out'" || bad "socket without a daemon: exit $rc, '$out'"

cluster_up 1
ip netns add "$P-j1" && JOBS+=("$P-j1")

# raw requests, one connection each; the reply must be an error with the expected code
# (stdin by redirection, not a pipe: a pipe would run raw in a subshell and lose its counts)
raw() {  # CODE DESCRIPTION [WORD]: the request line comes on stdin; the message must name WORD
	local code=$1 desc=$2 word=${3:-} rep
	rep=$(python3 -c '
import socket, sys
req = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(req)
except OSError:
    pass   # the daemon may close on an oversized line; its reply is still queued
buf = b""
try:
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
except OSError:
    pass
sys.stdout.write(buf.decode(errors="replace"))' "$S1")
	if python3 -c 'import json, sys
r = json.loads(sys.argv[1])
sys.exit(0 if r.get("ok") is False and r.get("error") == sys.argv[2] and r.get("message") and
         sys.argv[3] in r["message"] else 1)' "$rep" "$code" "$word" 2>/dev/null; then
		ok "$desc: $code reply ($(head -c 120 <<<"$rep"))"
	else
		bad "$desc: wanted a $code error reply, got '$(head -c 200 <<<"$rep")'"
	fi
	check "$desc: the daemon still answers status" q ctl 1 status
}
raw BAD_JSON "malformed JSON" < <(printf '{"version": 1, "cmd": "status"\n')
raw BAD_JSON "a JSON array, not an object" < <(printf '[1, 2, 3]\n')
raw BAD_REQUEST "attach with a numeric netns" < <(printf '{"version": 1, "cmd": "attach", "netns": 42}\n')
raw BAD_REQUEST "detach with a list as vip" < <(printf '{"version": 1, "cmd": "detach", "vip": ["198.19.1.10"]}\n')
raw BAD_REQUEST "a numeric cmd" < <(printf '{"version": 1, "cmd": 7}\n')
raw UNKNOWN_CMD "an unknown command" < <(printf '{"version": 1, "cmd": "frobnicate"}\n')
raw VERSION "protocol version 99" < <(printf '{"version": 99, "cmd": "status"}\n')
raw BAD_VIP "attach of a malformed VIP, sent raw" 198.19.1.300 < <(printf '{"version": 1, "cmd": "attach", "netns": "%s", "vip": "198.19.1.300"}\n' "$P-j1")
raw NOT_IN_POOL "attach outside the pool, sent raw" 10.9.9.9 < <(printf '{"version": 1, "cmd": "attach", "netns": "%s", "vip": "10.9.9.9"}\n' "$P-j1")
raw TOO_LONG "a 100 KB line" < <(python3 -c 'import sys
sys.stdout.write("{\"version\": 1, \"cmd\": \"status\", \"pad\": \"" + "x" * 102400 + "\"}\n")')

# attach refusals name the value
out=$(ctl 1 attach --netns "$P-j1" --vip 10.9.9.9 2>&1)
rc=$?
[ $rc = 1 ] && grep -q '10\.9\.9\.9' <<<"$out" && ok "attach outside the pool: exit 1, '$out'" ||
	bad "attach outside the pool: exit $rc, '$out'"
out=$(ctl 1 attach --netns "$P-j1" --vip 198.19.1.300 2>&1)
rc=$?
[ $rc != 0 ] && grep -q '198\.19\.1\.300' <<<"$out" && ok "attach of a malformed VIP: exit $rc, '$out'" ||
	bad "attach of a malformed VIP: exit $rc, '$out'"
out=$(ctl 1 attach --netns "$P-jnosuch" --vip 198.19.1.10 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "$P-jnosuch" <<<"$out" && ok "attach to a missing namespace: exit 1, '$out'" ||
	bad "attach to a missing namespace: exit $rc, '$out'"
out=$(ctl 1 detach --vip 198.19.1.77 2>&1)
rc=$?
[ $rc = 1 ] && grep -q '198\.19\.1\.77' <<<"$out" && ok "detach of a VIP not hosted: exit 1, '$out'" ||
	bad "detach of a VIP not hosted: exit $rc, '$out'"
check "nothing was attached by the refused requests" test "$(ctl 1 --json jobs | jget 'len(d)')" = 0

# every query command answers, as text and as JSON of the documented shape
for c in status peers routes jobs stats; do
	check "vnetctl $c (text): exit 0" q ctl 1 "$c"
done
check "status --json is an object naming n1" \
	test "$(ctl 1 --json status | jget 'd["node"]')" = n1
for c in peers routes jobs; do
	check "$c --json is an array" test "$(ctl 1 --json "$c" | jget 'type(d).__name__')" = list
done
check "stats --json has counters and drops objects" \
	test "$(ctl 1 --json stats | jget 'type(d["counters"]).__name__ + type(d["drops"]).__name__')" = dictdict

# a stopped daemon
timeout 60 "$CLUSTER" down >/dev/null 2>&1
out=$(timeout 10 "$VNETCTL" -s "$S1" status 2>&1)
rc=$?
[ $rc != 0 ] && [ -n "$out" ] && ok "stopped daemon: exit $rc, '$out'" ||
	bad "stopped daemon: exit $rc, '$out'"

finish
