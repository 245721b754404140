#!/usr/bin/env bash
# `tunvnetd -n -c FILE` checks a configuration: every error is reported, as FILE:LINE:
# reason, and the exit status is 1; a good configuration exits 0.
. "$(dirname "$0")/lib.sh"
need

"$ROOT/scripts/vnet-ca" init "$T/ca" >/dev/null && "$ROOT/scripts/vnet-ca" issue "$T/ca" n1 >/dev/null &&
	"$ROOT/scripts/vnet-ca" issue "$T/ca" n2 >/dev/null &&
	"$ROOT/scripts/vnet-ca" issue "$T/ca" n1 --start 200101000000Z --end 210101000000Z >/dev/null 2>&1 ||
	abort "vnet-ca cannot make the test CA"
# the last issue replaced n1's credential with an expired one: keep it apart, issue again
mv "$T/ca/n1.crt" "$T/expired.crt" && mv "$T/ca/n1.key" "$T/expired.key"
"$ROOT/scripts/vnet-ca" issue "$T/ca" n1 >/dev/null || abort "vnet-ca issue n1"
mkdir -p "$T/state"
good() {
	cat <<CONF
[node]
name = n1
listen = 198.18.0.1:7000
state_dir = $T/state
control_socket = $T/ctl.sock

[pool]
ipv4 = 198.19.1.0/24
ipv6 = fd00:19:1::/64

[peers]
seed = 198.18.0.2:7000

[security]
ca = $T/ca/ca.crt
cert = $T/ca/n1.crt
key = $T/ca/n1.key
CONF
}

# tvn_check FILE: runs the check, output into $T/err, status into rc
tvn_check() {
	timeout 10 "$TUNVNETD" -n -c "$1" >"$T/out" 2>"$T/err"
	rc=$?
}

good >"$T/good.conf"
tvn_check "$T/good.conf"
[ $rc = 0 ] && ok "good config: exit 0" || bad "good config: exit $rc: $(head -3 "$T/err" | tr '\n' '|')"
check "-n did not start a daemon (no control socket)" test ! -e "$T/ctl.sock"

# one error on each of lines 2, 3, 7, 10, 11 and 14
cat >"$T/bad.conf" <<CONF
[node]
name = bad name!
listen = 300.1.1.1:7000
forward_grace = 10
state_dir = $T/state
control_socket = $T/ctl.sock
mtu = 99

[pool]
ipv4 = 198.19.1.0/33
ipv6 = fd00:19:1::/200

[peers]
seed = 198.18.0.2:99999

[security]
ca = $T/ca/ca.crt
cert = $T/ca/n1.crt
key = $T/ca/n1.key
CONF
tvn_check "$T/bad.conf"
[ $rc = 1 ] && ok "config with 6 errors: exit 1" || bad "config with 6 errors: exit $rc"
for line in 2 3 7 10 11 14; do
	if grep -q "^$T/bad.conf:$line: ." "$T/err"; then
		ok "reported: $(grep -m1 "^$T/bad.conf:$line: " "$T/err")"
	else
		bad "no '$T/bad.conf:$line: reason' line for: $(sed -n "${line}p" "$T/bad.conf")"
	fi
done
[ "$(grep -c "^$T/bad.conf:[0-9]*: " "$T/err")" -ge 6 ] && ok "all six errors reported in one run" ||
	bad "fewer than six errors reported: $(tr '\n' '|' <"$T/err")"

# a required key missing: reported at the file's last line (config.h), naming the key
good | sed '/^name = /d' >"$T/noname.conf"
last=$(wc -l <"$T/noname.conf")
tvn_check "$T/noname.conf"
[ $rc = 1 ] && grep -q "^$T/noname.conf:$last: missing required key \"name\"" "$T/err" &&
	ok "missing name: exit 1, $(head -1 "$T/err")" || bad "missing name: exit $rc: $(tr '\n' '|' <"$T/err")"

# the credential, each as FILE:LINE: reason (lines of the [security] section)
check_cred() {  # NAME WHAT PATTERN SED...
	local name=$1 what=$2 pat=$3
	shift 3
	good | sed "$@" >"$T/$name.conf"
	tvn_check "$T/$name.conf"
	if [ $rc = 1 ] && grep -qE "^$T/$name.conf:[0-9]+: .*$pat" "$T/err"; then
		ok "$what: exit 1, $(head -1 "$T/err")"
	else
		bad "$what: exit $rc: $(tr '\n' '|' <"$T/err")"
	fi
}
cp "$T/ca/n1.key" "$T/key644" && chmod 0644 "$T/key644"
check_cred mode "private key mode 0644" "key644.*mode 0644" "s|^key = .*|key = $T/key644|"
check_cred nokey "missing private key" "nosuch.key.*No such file" "s|^key = .*|key = $T/nosuch.key|"
check_cred expired "expired certificate" "expired" \
	-e "s|^cert = .*|cert = $T/expired.crt|" -e "s|^key = .*|key = $T/expired.key|"
check_cred other "certificate for another node" 'for node "n2", not "n1"' \
	-e "s|^cert = .*|cert = $T/ca/n2.crt|" -e "s|^key = .*|key = $T/ca/n2.key|"
printf 'garbage\n' >"$T/bad.crt"
check_cred unreadable "unreadable certificate" "bad.crt holds no PEM certificate" \
	"s|^cert = .*|cert = $T/bad.crt|"
"$ROOT/scripts/vnet-ca" revoke "$T/ca" n1 >/dev/null
check_cred revoked "revoked certificate" "certificate revoked" "s|^\[security\]|[security]\ncrl = $T/ca/crl.pem|"

# a file that is not there
tvn_check "$T/missing.conf"
[ $rc = 1 ] && grep -q "missing.conf" "$T/err" && ok "missing file: exit 1, names it" ||
	bad "missing file: exit $rc: $(tr '\n' '|' <"$T/err")"

finish
