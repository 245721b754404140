#!/usr/bin/env bash
# `tunvnetd -n -c FILE` checks a configuration: every error is reported, as FILE:LINE:
# reason, and the exit status is 1; a good configuration exits 0.
. "$(dirname "$0")/lib.sh"
need

(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$T/key" && echo >>"$T/key")
mkdir -p "$T/state"
good() {
	cat <<CONF
[node]
name = n1
listen = 198.18.0.1:7000
key_file = $T/key
state_dir = $T/state
control_socket = $T/ctl.sock

[pool]
ipv4 = 198.19.1.0/24
ipv6 = fd00:19:1::/64

[peers]
seed = 198.18.0.2:7000
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
key_file = $T/key
state_dir = $T/state
control_socket = $T/ctl.sock
mtu = 99

[pool]
ipv4 = 198.19.1.0/33
ipv6 = fd00:19:1::/200

[peers]
seed = 198.18.0.2:99999
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

# the key file: group/other access, too short
cp "$T/key" "$T/key644" && chmod 0644 "$T/key644"
good | sed "s|^key_file = .*|key_file = $T/key644|" >"$T/mode.conf"
tvn_check "$T/mode.conf"
[ $rc = 1 ] && grep -q "key644" "$T/err" && ok "key file mode 0644: exit 1, $(head -1 "$T/err")" ||
	bad "key file mode 0644: exit $rc: $(tr '\n' '|' <"$T/err")"
(umask 077 && printf 'short' >"$T/shortkey")
good | sed "s|^key_file = .*|key_file = $T/shortkey|" >"$T/short.conf"
tvn_check "$T/short.conf"
[ $rc = 1 ] && grep -q "^$T/short.conf:[0-9]*: " "$T/err" &&
	ok "key file of 5 bytes: exit 1, $(head -1 "$T/err")" || bad "short key: exit $rc: $(tr '\n' '|' <"$T/err")"

# a file that is not there
tvn_check "$T/missing.conf"
[ $rc = 1 ] && grep -q "missing.conf" "$T/err" && ok "missing file: exit 1, names it" ||
	bad "missing file: exit $rc: $(tr '\n' '|' <"$T/err")"

finish
