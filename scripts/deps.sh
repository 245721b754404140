#!/bin/sh
# Install the Debian packages tunvnet needs to build, test and demo, if missing.
# Used by `make demo`, `make check` and CI; safe to run again (does nothing then).
# Usage: scripts/deps.sh [bench|rdma]   (bench: also the packages `make bench` needs;
# rdma: those scripts/verbs-selftest needs on a machine with RDMA)
set -eu

PKGS="build-essential pkg-config clang libclang-rt-dev
libnl-3-dev libnl-route-3-dev libpcap-dev libibverbs-dev libcmocka-dev
libinih-dev libjansson-dev libsodium-dev libssl-dev openssl libmicrohttpd-dev libsystemd-dev
libcurl4-openssl-dev etcd-server etcd-client
iproute2 iputils-ping iperf3 python3 procps util-linux tcpdump tshark nftables
runc busybox-static debhelper dpkg-dev fakeroot systemd man-db"
[ "${1:-}" = bench ] && PKGS="$PKGS openvpn sockperf"
# scripts/verbs-selftest on a real device or rdma_rxe: the user-space drivers, modprobe
[ "${1:-}" = rdma ] && PKGS="$PKGS ibverbs-providers kmod"

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
