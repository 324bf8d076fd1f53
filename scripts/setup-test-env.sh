#!/bin/sh
# Prepares a Debian machine to build rootless and run its end-to-end tests.
# Run as root; idempotent. What it does:
#   - installs the build toolchain (with g++-aarch64-linux-gnu, for the
#     linux-arm64 addon `npm pack` carries) and the programs rootless drives
#     (newuidmap/newgidmap, slirp4netns, pasta) plus the references used by
#     tests and benchmarks (rootlesskit, iperf3, ab, systemd-socket-activate);
#   - creates the unprivileged test user (default rootless-test) with a
#     sub-uid/sub-gid range, and a second user with no range at all;
#   - makes /dev/net/tun usable by unprivileged users (0666, as most
#     distributions ship it), which slirp4netns and pasta need.
set -eu

TEST_USER="${ROOTLESS_TEST_USER:-rootless-test}"
NOSUB_USER="${ROOTLESS_TEST_NOSUB_USER:-rootless-nosub}"

if [ "$(id -u)" != 0 ]; then
	echo "setup-test-env: must run as root (it installs packages and creates users)" >&2
	exit 1
fi

PKGS="build-essential cmake g++-aarch64-linux-gnu python3 uidmap slirp4netns passt rootlesskit iperf3 apache2-utils util-linux procps iproute2 systemd zsh fakeroot"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup-test-env: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Debian's docker.io is the end-to-end proof that dockerd's rootless mode
# runs under rootless (test/e2e/docker.test.ts). Its postinst must not start
# a root dockerd on this machine: policy-rc.d refuses service starts while
# it installs. busybox-static makes a local image (no registry is reachable).
if ! dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q "install ok installed"; then
	echo "setup-test-env: installing docker.io (services not started)"
	export DEBIAN_FRONTEND=noninteractive
	[ -e /usr/sbin/policy-rc.d ] && had_policy=1 || had_policy=
	[ -n "$had_policy" ] || printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -qq --no-install-recommends docker.io busybox-static iptables >/dev/null
	[ -n "$had_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

add_user() {
	if ! id -u "$1" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/bash "$1"
	fi
}
add_user "$TEST_USER"
add_user "$NOSUB_USER"

# One 65536-wide range per file for the test user, placed after every
# existing range so it never overlaps another user's.
add_range() { # file user
	if ! grep -q "^$2:" "$1" 2>/dev/null; then
		start=$(awk -F: 'BEGIN{m=100000} NF==3 {e=$2+$3; if (e>m) m=e} END{print m}' "$1" 2>/dev/null || echo 100000)
		echo "$2:$start:65536" >>"$1"
	fi
}
touch /etc/subuid /etc/subgid
add_range /etc/subuid "$TEST_USER"
add_range /etc/subgid "$TEST_USER"
# The no-sub-id user must really have none.
sed -i "/^$NOSUB_USER:/d" /etc/subuid /etc/subgid

if [ -c /dev/net/tun ]; then
	chmod 0666 /dev/net/tun
	mkdir -p /etc/udev/rules.d
	echo 'KERNEL=="tun", MODE="0666"' >/etc/udev/rules.d/60-rootless-tun.rules
fi

echo "setup-test-env: ready (test user $TEST_USER: $(grep "^$TEST_USER:" /etc/subuid))"
