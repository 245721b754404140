#!/usr/bin/env bash
# timeout: 400
# tunvnet installed like a daemon: `make install DESTDIR=... PREFIX=...` lays out the
# programs, man pages, systemd unit, bash completion and example configuration; every man
# page renders without a warning; the unit verifies; the Debian package builds from the
# tree, installs into a scratch root, and its tunvnetd -n and vnetctl --help run.
# (No namespaces: it runs beside a cluster, but the .deb build takes a minute or two, so
# this test is the one to skip for a quick run: TUNVNET_SKIP_DEB=1 leaves the package out.)
. "$(dirname "$0")/lib.sh"
need make install man systemd-analyze
NCPU=$(nproc 2>/dev/null || echo 1)

# --- make install into a staging root
D=$T/stage
if make -s install DESTDIR="$D" PREFIX=/usr CNI_BIN_DIR=/usr/lib/cni >"$T/install.log" 2>&1; then
	ok "make install DESTDIR=$D PREFIX=/usr"
else
	sed 's/^/    /' "$T/install.log" | tail -20
	abort "make install failed"
fi
for f in usr/sbin/tunvnetd usr/bin/vnetctl usr/bin/vnet-up usr/lib/cni/tunvnet-cni \
	usr/share/man/man8/tunvnetd.8 usr/share/man/man8/vnetctl.8 usr/share/man/man8/vnet-up.8 \
	usr/share/man/man8/tunvnet-cni.8 usr/share/man/man8/vnet-ca.8 \
	usr/share/man/man5/tunvnet.conf.5 usr/lib/systemd/system/tunvnetd.service \
	usr/share/bash-completion/completions/vnetctl \
	usr/share/doc/tunvnet/tunvnetd.conf.example usr/share/doc/tunvnet/design.md; do
	[ -e "$D/$f" ] || bad "make install: /$f missing"
done
[ -x "$D/usr/sbin/tunvnetd" ] && [ -x "$D/usr/bin/vnet-up" ] && [ -x "$D/usr/lib/cni/tunvnet-cni" ] &&
	ok "make install: programs, man pages, unit, completion, example config in place" ||
	bad "make install: a program is not executable"
[ -f scripts/vnet-ca ] && { [ -x "$D/usr/bin/vnet-ca" ] && ok "vnet-ca installed" || bad "vnet-ca not installed"; }
grep -q '^ExecStart=/usr/sbin/tunvnetd -c /etc/tunvnet/tunvnetd.conf$' "$D/usr/lib/systemd/system/tunvnetd.service" &&
	ok "the unit runs /usr/sbin/tunvnetd" || bad "the unit's ExecStart: $(grep ExecStart "$D"/usr/lib/systemd/system/tunvnetd.service)"
# vnet-up finds the vnetctl installed beside it
out=$(PATH=/usr/bin:/bin "$D/usr/bin/vnet-up" -s /nonexistent.sock -- true 2>&1)
grep -q "nonexistent.sock" <<<"$out" && ok "installed vnet-up runs the installed vnetctl" ||
	bad "installed vnet-up: $out"

# --- man pages: no warnings (both the tree's and the installed ones)
nwarn=0
for m in man/*.[58] "$D"/usr/share/man/man*/*; do
	w=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
	[ -n "$w" ] && { bad "man --warnings $m: $w"; nwarn=$((nwarn + 1)); }
done
[ $nwarn = 0 ] && ok "every man page renders without warnings"
# every key of the config parser is in tunvnet.conf(5)
keys=$(sed -n 's/^\t{ "\([a-z]*\)", "\([a-z_0-9]*\)", set_.*/\2/p' tunvnet/config.c)
missing=""
for k in $keys ca cert key crl data_protection; do
	grep -q "^\.B[IR]* $k\b" man/tunvnet.conf.5 || missing="$missing $k"
done
[ -z "$missing" ] && ok "tunvnet.conf(5) documents every key ($(echo $keys | wc -w) parsed + [security])" ||
	bad "tunvnet.conf(5) lacks:$missing"
grep -q metrics_listen man/tunvnetd.8 && ok "tunvnetd(8) mentions metrics_listen" || bad "tunvnetd(8) lacks metrics_listen"

# --- the unit verifies (installed where its ExecStart exists)
P=$T/prefix
make -s install PREFIX="$P" CNI_BIN_DIR="$P/cni" >"$T/install2.log" 2>&1 || bad "make install PREFIX=$P"
# (--man=no: the man pages it names are installed under $P, not where man looks)
out=$(systemd-analyze verify --man=no "$P/lib/systemd/system/tunvnetd.service" 2>&1)
rc=$?
# systemd-analyze also checks the units it pulls in; only lines about ours count
ours=$(grep -i tunvnetd <<<"$out")
[ $rc = 0 ] && [ -z "$ours" ] && ok "systemd-analyze verify tunvnetd.service: clean" ||
	bad "systemd-analyze verify: exit $rc: $out"

# --- bash completion: loads and completes
if [ -r /usr/share/bash-completion/bash_completion ]; then
	out=$(bash -c '. /usr/share/bash-completion/bash_completion; . "$1"
comp() { COMP_LINE=$1; COMP_POINT=${#1}; read -ra COMP_WORDS <<<"$1"; COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=(); _vnetctl; echo "${COMPREPLY[*]}"; }
comp "vnetctl at"; comp "vnetctl attach --st"' _ completion/vnetctl 2>&1)
	[ "$out" = $'attach\n--standby' ] && ok "bash completion: commands and options" ||
		bad "bash completion: '$out'"
fi

# --- the Debian package
if [ "${TUNVNET_SKIP_DEB:-0}" = 1 ]; then
	info "TUNVNET_SKIP_DEB=1: Debian package not built"
	finish
fi
need dpkg-buildpackage dpkg-deb
SRC=$T/src/tunvnet
mkdir -p "$SRC"
# the tree as git sees it (tracked and new files), without build products
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
	xargs -0 tar -cf - --no-recursion 2>/dev/null | tar -xf - -C "$SRC"
rm -f "$SRC/tunvnetd" "$SRC/vnetctl" "$SRC/tunvnet-cni"
t0=$(now_us)
if (cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$NCPU nocheck" dpkg-buildpackage -us -uc -b) \
	>"$T/deb.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b: built in $(( ($(now_us) - t0) / 1000000 )) s"
else
	tail -30 "$T/deb.log" | sed 's/^/    /'
	abort "dpkg-buildpackage failed"
fi
DEB=$(ls "$T"/src/tunvnet_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || abort "no .deb made"
R=$T/root
dpkg -x "$DEB" "$R" || abort "dpkg -x $DEB"
for f in usr/sbin/tunvnetd usr/bin/vnetctl usr/bin/vnet-up usr/lib/cni/tunvnet-cni \
	lib/systemd/system/tunvnetd.service usr/share/man/man5/tunvnet.conf.5.gz \
	usr/share/man/man8/tunvnet-cni.8.gz usr/share/bash-completion/completions/vnetctl; do
	[ -e "$R/$f" ] || bad "the .deb lacks /$f"
done
ok "the .deb unpacked into $R: $(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Version)"
out=$("$R/usr/bin/vnetctl" --help 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "gc" <<<"$out" && ok "the package's vnetctl --help runs" || bad "vnetctl --help: exit $rc"

# the package's tunvnetd checks a configuration (the example, with a node key of its own)
E=$T/etc
mkdir -p "$E"
sed "s|/etc/tunvnet|$E|g" "$R/usr/share/doc/tunvnet/tunvnetd.conf.example" >"$E/tunvnetd.conf"
"$R/usr/bin/vnet-ca" init "$E" >/dev/null 2>&1 && "$R/usr/bin/vnet-ca" issue "$E" n1 >/dev/null 2>&1 ||
	bad "the package's vnet-ca could not make the example's certificates"
out=$("$R/usr/sbin/tunvnetd" -n -c "$E/tunvnetd.conf" 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "configuration OK" <<<"$out" && ok "the package's tunvnetd -n: $out" ||
	bad "tunvnetd -n: exit $rc: $out"
out=$(echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$R/usr/lib/cni/tunvnet-cni")
grep -q '"1.0.0"' <<<"$out" && ok "the package's tunvnet-cni answers VERSION" || bad "tunvnet-cni VERSION: $out"

finish
