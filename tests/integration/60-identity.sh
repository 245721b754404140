#!/usr/bin/env bash
# Node identity, as an outside host would try it: a node whose certificate comes from
# another CA, a revoked one (also one revoked while it is up: SIGHUP drops it), an expired
# one, one for another name (and a TLS peer whose HELLO names another node than its
# certificate), none at all. Each is refused and counted (counters.handshake_refused on the
# node dialled), never listed as up, and n1..n3 stay meshed. `tunvnetd -n` reports an
# expired certificate, one for another name and a group-readable key as FILE:LINE: reason.
# timeout: 420
. "$(dirname "$0")/lib.sh"
need python3 openssl
VCA=$ROOT/scripts/vnet-ca
FAKEPEER=$ROOT/build/tools/fakepeer
[ -x "$FAKEPEER" ] || abort "build/tools/fakepeer not built (make tests)"
X=$P-x50 # a host on the underlay, 198.18.0.50

cluster_up 3
outsider "$X" 198.18.0.50
CA=$CDIR/ca

refused() { stat 1 counters.handshake_refused; }
# refused_past N: n1's handshake_refused is above N
refused_past() { [ "$(refused)" -gt "$1" ] 2>/dev/null; }
# only_members: every node lists only n1..n3 as up, and n1..n3 all see each other
only_members() {
	local k n
	for k in 1 2 3; do
		for n in $(peers_up "$k"); do
			case $n in n1 | n2 | n3) ;; *) echo "n$k lists $n as up"; return 1 ;; esac
		done
	done
	all_meshed
}
# expect_refused WHAT: n1's counter rose past $r0 (and again, a retry refused as well, when
# the refused party retries by itself: RETRIES=1); nobody else up; then r0 is updated.
expect_refused() {
	local what=$1 r1
	if wait_until 20 refused_past "$r0"; then
		r1=$(refused)
		ok "$what: refused and counted (n1 handshake_refused $r0 -> $r1)"
	else
		bad "$what: n1 handshake_refused did not rise above $r0 within 20 s"
		r1=$r0
	fi
	if [ "${RETRIES:-0}" = 1 ]; then
		if wait_until 30 refused_past "$r1"; then
			ok "$what: its retry refused as well (handshake_refused -> $(refused))"
		else
			bad "$what: no retry refused within 30 s"
		fi
	fi
	check "$what: n1..n3 list nobody else as up and stay meshed" only_members
	r0=$(refused)
}
stop_node() { # K: stops the daemon of a node added here (its PID, from vnet-cluster)
	local pid
	pid=$(daemon_pid "$1")
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait_until 10 eval "! kill -0 $pid 2>/dev/null"
}

# conf NAME CERT KEY: a config file for node NAME with that credential (for tunvnetd -n)
conf() {
	cat >"$T/$1.conf" <<EOF
[node]
name = $1
listen = 198.18.0.99:7000
state_dir = $T/state
control_socket = $T/$1.sock

[pool]
ipv4 = 198.19.99.0/24

[security]
ca = $CA/ca.crt
cert = $2
key = $3
crl = $CA/crl.pem
EOF
	echo "$T/$1.conf"
}
# check_refuses CONF PATTERN WHAT: tunvnetd -n fails with a line CONF:LINE: ... PATTERN
check_refuses() {
	local out rc
	out=$("$TUNVNETD" -n -c "$1" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -qE "^$1:[0-9]+: .*$2" <<<"$out"; then
		ok "tunvnetd -n refuses $3: $(grep -E "^$1:[0-9]+:" <<<"$out" | head -1)"
	else
		bad "tunvnetd -n on $3: exit $rc, said: $(tr '\n' '|' <<<"$out")"
	fi
}

r0=$(refused)
[[ $r0 =~ ^[0-9]+$ ]] || abort "stats --json on n1 lacks counters.handshake_refused"
lines_up0=$(cat "$CDIR"/n[123].log | grep -c "peer n3 up")

# --- 1. a certificate from another CA ------------------------------------------------
"$VCA" init "$T/other" >/dev/null && "$VCA" issue "$T/other" n4 >/dev/null ||
	abort "vnet-ca: cannot make another CA"
if out=$(timeout 30 "$CLUSTER" add 4 --cert "$T/other/n4.crt" --key "$T/other/n4.key" \
	--ca "$T/other/ca.crt" 2>&1); then
	ok "n4 started with a certificate of another CA"
else
	abort "vnet-cluster add 4 --cert (another CA): $out"
fi
RETRIES=1 expect_refused "another CA (n4)"
if grep -qiE 'refused|certificate|verify|unknown ca' "$CDIR/n4.log"; then
	ok "n4's log says why: $(grep -iE 'refused|certificate|verify|unknown ca' "$CDIR/n4.log" | head -1)"
else
	bad "n4's log does not say it was refused: $(tail -n 3 "$CDIR/n4.log" | tr '\n' '|')"
fi
stop_node 4

# --- 2. a revoked certificate ---------------------------------------------------------
"$VCA" issue "$CA" n5 >/dev/null && "$VCA" revoke "$CA" n5 >/dev/null || abort "vnet-ca revoke n5"
reread() { [ "$(grep -c 'revocation list .* re-read' "$CDIR/n$1.log")" -gt "$2" ]; }
hup_all() { # K...: SIGHUP, then wait until each has re-read the revocation list
	local k c
	for k in "$@"; do
		c=$(grep -c 'revocation list .* re-read' "$CDIR/n$k.log")
		kill -HUP "$(daemon_pid "$k")"
		wait_until 10 reread "$k" "$c" || bad "n$k did not re-read its revocation list on SIGHUP"
	done
}
hup_all 1 2 3
if out=$(timeout 30 "$CLUSTER" add 5 --cert "$CA/n5.crt" --key "$CA/n5.key" 2>&1); then
	ok "n5 started with a revoked certificate of the cluster's CA"
else
	abort "vnet-cluster add 5 --cert (revoked): $out"
fi
RETRIES=1 expect_refused "revoked certificate (n5)"
if grep -qiE 'revoked' "$CDIR/n1.log"; then
	ok "n1's log names the revocation: $(grep -iE 'revoked' "$CDIR/n1.log" | head -1)"
else
	bad "n1's log does not say the certificate is revoked"
fi
stop_node 5

# --- 3. a certificate for another name (first from 198.18.0.50: its refusal is logged
# once per address) ------------------------------------------------
"$VCA" issue "$CA" n9 >/dev/null || abort "vnet-ca issue n9"
check_refuses "$(conf n7 "$CA/n9.crt" "$CA/n9.key")" 'for node "n9", not "n7"' \
	"a certificate for another node"
n2addr=$(peer_field 1 n2 'e["address"]')
if ip netns exec "$X" timeout 20 "$FAKEPEER" --connect 198.18.0.1:7000 --ca "$CA/ca.crt" \
	--cert "$CA/n9.crt" --key "$CA/n9.key" --name n2 sync print synced >"$T/fp.out" 2>&1; then
	bad "fakepeer with n9's certificate and HELLO n2 was not refused: $(tr '\n' '|' <"$T/fp.out")"
else
	ok "fakepeer with n9's certificate saying HELLO n2 was cut off: $(tr "\n" " " <"$T/fp.out")"
fi
expect_refused "HELLO naming n2 over n9's certificate"
if grep -q 'HELLO says "n2" but the certificate names "n9"' "$CDIR/n1.log"; then
	ok "n1's log says why: HELLO says \"n2\" but the certificate names \"n9\""
else
	bad "n1's log lacks the HELLO / certificate mismatch"
fi
check "n1 still has the real n2 up at its own address ($n2addr)" \
	test "$(peer_field 1 n2 'e["state"] + " " + e["address"]')" = "up $n2addr"

# --- 4. an expired certificate ----------------------------------------------------------
"$VCA" issue "$CA" n6 --start 200101000000Z --end 210101000000Z >/dev/null ||
	abort "vnet-ca issue --start --end"
check_refuses "$(conf n6 "$CA/n6.crt" "$CA/n6.key")" "expired" "an expired certificate"
out=$(ip netns exec "$X" timeout 20 openssl s_client -connect 198.18.0.1:7000 -tls1_3 \
	-cert "$CA/n6.crt" -key "$CA/n6.key" -CAfile "$CA/ca.crt" -ign_eof </dev/null 2>&1)
info "openssl s_client with the expired certificate: $(grep -iE 'alert|error|verify' <<<"$out" | head -2 | tr '\n' '|')"
expect_refused "an expired certificate (openssl s_client from 198.18.0.50)"

# --- 5. no certificate at all ------------------------------------------------------------
out=$(ip netns exec "$X" timeout 20 openssl s_client -connect 198.18.0.1:7000 -tls1_3 \
	-CAfile "$CA/ca.crt" -ign_eof </dev/null 2>&1)
info "openssl s_client without a certificate: $(grep -iE 'alert|error' <<<"$out" | head -2 | tr '\n' '|')"
expect_refused "no certificate (openssl s_client from 198.18.0.50)"

# --- 6. a private key readable by the group -------------------------------------------
cp "$CA/n9.key" "$T/n9-group.key" && chmod 640 "$T/n9-group.key"
check_refuses "$(conf n9 "$CA/n9.crt" "$T/n9-group.key")" \
	"$T/n9-group.key.*(mode 0640)" "a group-readable key"

# --- 7. revoking an up node's certificate drops it ----------------------------------
"$VCA" revoke "$CA" n3 >/dev/null || abort "vnet-ca revoke n3"
hup_all 1 2
# n3 itself: its own certificate is now revoked, so its configuration no longer checks;
# what it does with that is logged (not judged here)
c3=$(wc -l <"$CDIR/n3.log")
kill -HUP "$(daemon_pid 3)"
n3_out() { ! peer_up 1 n3 && ! peer_up 2 n3; }
if wait_until 10 n3_out; then
	ok "after revoking n3 and SIGHUP, n1 and n2 dropped it"
else
	bad "n3 still up on n1 or n2 10 s after its revocation"
fi
check "n1's log says n3's certificate is no longer valid" grep -q "peer n3: .*dropping it" "$CDIR/n1.log"
lines_up1=$(cat "$CDIR"/n[123].log | grep -c "peer n3 up")
# n3 dials n1 again (its seed): refused each time
r1=$(refused)
if wait_until 30 refused_past "$r1"; then
	ok "n3's next attempt is refused too (n1 handshake_refused $r1 -> $(refused))"
else
	bad "no refused attempt from n3 within 30 s"
fi
check "n3 is not up on n1 or n2" n3_out
check "n1 and n2 stay meshed" peer_up 1 n2
check "n3 never came up again" test "$(cat "$CDIR"/n[123].log | grep -c "peer n3 up")" = "$lines_up1"

# --- never up, in the logs: nobody but n1..n3, never from the outside host --------
if grep -E "peer (n4|n5|n6|n7|n9) up|peer .* up \(198\.18\.0\.50" "$CDIR"/n[123].log; then
	bad "a refused party was up at some point (lines above)"
else
	ok "no refused party was ever up on n1..n3 (their logs)"
fi
info "peer n3 up lines: $lines_up0 before, $lines_up1 at the revocation"
info "n3 on SIGHUP after its own revocation: $(tail -n +"$((c3 + 1))" "$CDIR/n3.log" | grep -iE 'reload|revo|crl' | head -2 | tr '\n' '|')"

finish
