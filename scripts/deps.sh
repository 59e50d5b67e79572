#!/bin/sh
# Install the Debian packages pipelock-fw needs to build and to run its tests.
# Idempotent: packages already present are not reinstalled; the list of what is
# missing is printed before apt-get runs.
set -eu

BUILD_PKGS="build-essential pkg-config libyaml-dev libpcre2-dev libssl-dev \
libmnl-dev libnftnl-dev libnetfilter-queue-dev libnftables-dev libvectorscan-dev \
libcap-dev"
FUZZ_PKGS="clang libclang-rt-dev"
TEST_PKGS="nftables iproute2 curl openssl socat python3 util-linux procps \
tcpdump wget nodejs dnsmasq-base ngtcp2-client ngtcp2-server mandoc \
nginx-light wrk kmod python3-yaml systemd logrotate man-db bind9-dnsutils \
conntrack ca-certificates valgrind"
# make bench: the peers it measures pipelock-fw against, and perf to profile
BENCH_PKGS="haproxy squid-openssl linux-perf"

want="$BUILD_PKGS"
case "${1:-all}" in
build) ;;
all) want="$want $FUZZ_PKGS $TEST_PKGS $BENCH_PKGS" ;;
bench) want="$want $TEST_PKGS $BENCH_PKGS" ;;
*) echo "usage: $0 [build|all|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all build/test packages present"
	exit 0
fi
echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install packages (run: sudo $0)" >&2
	exit 1
fi
# Keep the packages' own services (nginx, dnsmasq) from starting on the host:
# the tests start private copies inside network namespaces.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
