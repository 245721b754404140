#!/usr/bin/env bash
# A node with another cluster key (n4, seeding n1) is refused: it never shows as "up" on
# n1..n3, n1 counts the refused handshake, n4's log says so, the others stay meshed.
. "$(dirname "$0")/lib.sh"

cluster_up 3
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$T/other.key" && echo >>"$T/other.key")
r0=$(stat 1 counters.handshake_refused)
[[ $r0 =~ ^[0-9]+$ ]] || abort "stats --json on n1 lacks counters.handshake_refused"

if out=$(timeout 30 "$CLUSTER" add 4 --key "$T/other.key" 2>&1); then
	ok "vnet-cluster add 4 --key (another key)"
else
	abort "vnet-cluster add 4 --key: $out"
fi

refused() { [ "$(stat 1 counters.handshake_refused)" -gt "$r0" ] 2>/dev/null; }
if wait_until 15 refused; then
	ok "n1 counters.handshake_refused grew ($r0 -> $(stat 1 counters.handshake_refused))"
else
	bad "n1 counters.handshake_refused did not grow within 15 s"
fi

# give n4 time for a retry or two before judging
sleep 3
for k in 1 2 3; do
	if peer_up "$k" n4; then bad "n$k lists n4 as up"; else ok "n$k does not list n4 as up"; fi
done
check "n1..n3 still see each other up" all_meshed
check "n4's daemon is still running (a refusal is not fatal)" kill -0 "$(daemon_pid 4)"

if grep -qiE 'refus|reject|denied|auth|key|handshake' "$CDIR/n4.log"; then
	ok "n4's log mentions the refusal: $(grep -iE 'refus|reject|denied|auth|key|handshake' "$CDIR/n4.log" | head -1)"
else
	bad "n4's log does not mention the refusal: $(tail -n 3 "$CDIR/n4.log" | tr '\n' '|')"
fi

finish
