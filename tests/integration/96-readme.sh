#!/usr/bin/env bash
# The README's "Using it: two nodes by hand" steps, run as they stand (the blocks marked
# `<!-- readme-test: ... -->`), with its paths moved into a scratch directory and its
# namespace names prefixed: two daemons in node namespaces made by hand, jobs on both,
# ping across, clean stop. Between the start of the daemons and the jobs, the one-daemon-
# per-resource rules: `tunvnetd -n` reports a clash with a running daemon, a clashing
# daemon refuses to start naming the running one, and a daemon started outside its
# node's namespace says so.
# exclusive: fixed namespace names (tvr-*), `vnetctl gc` of the default vnet-up records
. "$(dirname "$0")/lib.sh"
need python3 ping
[ -x ./tunvnet-cni ] || abort "not built (run make)"

# scratch places for the README's /etc/tunvnet, /run/tunvnet/nK.sock, /var/lib/tunvnet;
# namespaces host1, host2, job2 become tvr-h1, tvr-h2, tvr-j2
E=$T/etc L=$T/lib R=$T/run
mkdir -p "$R"
NSS=(tvr-h1 tvr-h2 tvr-j2)
for n in "${NSS[@]}"; do [ -e "/run/netns/$n" ] && abort "namespace $n exists already"; done

readme_cleanup() {
	local f n
	for f in "$L"/n*/tunvnetd.lock; do
		[ -f "$f" ] && kill "$(head -1 "$f")" 2>/dev/null
	done
	"$VNETCTL" gc >/dev/null 2>&1
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
}
trap 'readme_cleanup; cleanup' EXIT

[ -x scripts/vnet-ca ] || abort "scripts/vnet-ca is missing"

# the README's blocks as two scripts: A up to the daemons' start, B the rest
python3 - README.md "$T" <<'PY' || abort "cannot extract the README's steps"
import re, sys
readme, T = open(sys.argv[1]).read(), sys.argv[2]
blocks = re.findall(r"<!-- readme-test: (run|file (\S+)) -->\n```\w*\n(.*?)```", readme, re.S)
if len(blocks) < 6:
    sys.exit("only %d marked blocks" % len(blocks))
def moved(s):
    s = s.replace("/etc/tunvnet", T + "/etc").replace("/var/lib/tunvnet", T + "/lib")
    s = re.sub(r"/run/tunvnet/(n\d+\.sock)", T + r"/run/\1", s)
    for a, b in (("host1", "tvr-h1"), ("host2", "tvr-h2"), ("job2", "tvr-j2")):
        s = re.sub(r"\b%s\b" % a, b, s)
    return s
parts, cur = [], []
for kind, path, body in blocks:
    if kind == "run":
        cur.append(moved(body))
        if "tunvnetd -d" in body:
            parts.append(cur); cur = []
    else:
        cur.append("cat >%s <<'EOF'\n%sEOF\n" % (moved(path), moved(body)))
parts.append(cur)
if len(parts) != 2:
    sys.exit("no block starts the daemons")
head = "set -ex\ntrap 'jobs -p | xargs -r kill 2>/dev/null' EXIT\n"
# what part A exported (the README's PATH) holds for part B too: one shell to a reader
parts[1].insert(0, "".join(l + "\n" for b in parts[0] for l in b.splitlines()
                           if l.startswith("export ")))
for name, p in zip("AB", parts):
    open("%s/readme-%s.sh" % (T, name), "w").write(head + "\n".join(p))
PY
ok "README: $(grep -c 'readme-test:' README.md) marked blocks extracted"

run_part() {
	if timeout 120 bash "$T/readme-$1.sh" >"$T/readme-$1.log" 2>&1; then
		ok "README steps, part $1 ($2): all commands succeeded"
	else
		sed 's/^/    /' "$T/readme-$1.log" | tail -25
		abort "README steps, part $1 ($2) failed"
	fi
}
run_part A "CA, node namespaces, configs, daemons started"
grep -q "configuration OK" "$T/readme-A.log" && ok "tunvnetd -n said: configuration OK" ||
	bad "no 'configuration OK' from tunvnetd -n"
grep -q "is not an address of this network namespace" "$T/readme-A.log" &&
	ok "tunvnetd -n outside the node's namespace notes it" || bad "tunvnetd -n: no namespace note"
grep -Eq "^n1 .* up " "$T/readme-A.log" && ok "n2 lists n1 as up" || bad "n2's peers: $(tail -3 "$T/readme-A.log")"

# --- one daemon per state directory, control socket, listen address
C1=$E/n1.conf
out=$(ip netns exec tvr-h1 ./tunvnetd -n -c "$C1" 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "running with this configuration" <<<"$out" &&
	ok "tunvnetd -n of the running daemon's own config: ok, noted" || bad "-n own config: exit $rc: $out"
sed -e 's/^name = n1$/name = n3/' -e "s|$E/n1\.crt|$E/n3.crt|" -e "s|$E/n1\.key|$E/n3.key|" \
	"$C1" >"$E/n3.conf"
cp "$E"/n1.* "$T" 2>/dev/null
scripts/vnet-ca issue "$E" n3 >/dev/null && scripts/vnet-ca issue "$E" n4 >/dev/null ||
	abort "vnet-ca cannot issue n3 and n4"
out=$(ip netns exec tvr-h1 ./tunvnetd -n -c "$E/n3.conf" 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "state_dir $L/n1 is in use by tunvnetd pid" <<<"$out" &&
	grep -q "control_socket $R/n1.sock is in use" <<<"$out" &&
	grep -q "listen 198.18.0.1:7000 is in use" <<<"$out" &&
	ok "tunvnetd -n of a clashing config: exit 1, names state_dir, socket and listen" ||
	bad "-n clashing config: exit $rc: $out"
out=$(ip netns exec tvr-h1 timeout 10 ./tunvnetd -c "$E/n3.conf" 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "state_dir $L/n1 is in use by tunvnetd pid $(head -1 "$L/n1/tunvnetd.lock")" <<<"$out" &&
	ok "a clashing daemon refuses to start, naming the running one" || bad "clashing start: exit $rc: $out"
check "the running n1 still answers" q "$VNETCTL" -s "$R/n1.sock" status
sed -e 's/^name = n1$/name = n4/' -e "s|$R/n1.sock|$R/n4.sock|" -e "s|$L/n1|$L/n4|" \
	-e "s|$E/n1\.crt|$E/n4.crt|" -e "s|$E/n1\.key|$E/n4.key|" "$C1" >"$E/n4.conf"
out=$(timeout 10 ./tunvnetd -c "$E/n4.conf" 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "listen 198.18.0.1:7000 is not an address of this network namespace" <<<"$out" &&
	ok "started outside the node's namespace: refuses, says why" || bad "outside the namespace: exit $rc: $out"
check "nothing was left by the refused daemons" eval "[ ! -e $R/n4.sock ] && [ ! -e $R/n3.sock ]"

run_part B "jobs, ping across, clean stop"
grep -q "3 packets transmitted, 3 received" "$T/readme-B.log" && ok "the n2 job pinged the n1 job" ||
	bad "no ping reply in part B"
grep -q "attached 198.19.2.20 to tvr-j2" "$T/readme-B.log" && grep -q "attached fd00:19:2::1 to tvr-j2" "$T/readme-B.log" &&
	ok "vnetctl attach: 198.19.2.20 as asked, fd00:19:2::1 the IPv6 pool's first" || bad "attach output"
grep -Eq "^vnup-[0-9]+ +tv0 +198\.19\.1\.1 " "$T/readme-B.log" && ok "n1's first pool VIP is 198.19.1.1" ||
	bad "n1's jobs: $(grep -A2 NETNS "$T/readme-B.log" | head -3)"
gone() {
	for n in "${NSS[@]}"; do [ -e "/run/netns/$n" ] && return 1; done
	! ls "$L"/n*/tunvnetd.lock >/dev/null 2>&1 || ! flock -n "$L/n1/tunvnetd.lock" true && return 1
	! ip netns list | grep -q '^vnup-'
}
check "after the README's stop: daemons, namespaces and jobs gone" wait_until 10 gone

finish
