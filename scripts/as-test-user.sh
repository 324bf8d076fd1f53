#!/bin/sh
# Runs bin/rootless as the unprivileged test user (scripts/setup-test-env.sh
# makes it), for trying rootless as root on a fresh machine:
#   scripts/as-test-user.sh run -- id
# The user must be able to read the built tree; a clone under /root is not
# readable to others, so a copy in /var/tmp is used then.
set -eu
user="${ROOTLESS_TEST_USER:-rootless-test}"
tree=$(cd "$(dirname "$0")/.." && pwd)
if ! runuser -u "$user" -- test -r "$tree/dist/src/cli/rootless.cjs"; then
	copy=/var/tmp/rootless-as-$user
	rm -rf "$copy" && mkdir -p "$copy" && cp -a "$tree/." "$copy/" && chmod -R a+rX "$copy"
	tree=$copy
fi
cd /tmp
exec runuser -u "$user" -- "$tree/bin/rootless" "$@"
