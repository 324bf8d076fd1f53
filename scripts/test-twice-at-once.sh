#!/usr/bin/env bash
# Two runs of the README's test command at the same time on one machine, as
# two CI jobs sharing a runner (issue #9's bar): clones this checkout's HEAD
# twice under /var/tmp (readable by the test user), builds both, packs one
# tarball for both install tests, runs `npm test` in both at once and prints
# each run's summary line. Exit 0 when both pass. As root, after
# scripts/setup-test-env.sh and npm ci.
#
#   scripts/test-twice-at-once.sh            (about 7 min on 2 idle cores)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rev=$(git -C "$repo" rev-parse --short HEAD)
work=$(mktemp -d /var/tmp/rootless-twice.XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
for x in a b; do
	git clone -q "$repo" "$work/$x" && git -C "$work/$x" checkout -q "$rev" || exit 1
	cp -a "$repo/node_modules" "$work/$x/"
	(cd "$work/$x" && npm run build >"$work/build-$x.log" 2>&1) || { echo "build $x failed: $work/build-$x.log"; exit 1; }
	chmod -R a+rX "$work/$x"
done
mkdir "$work/pack" && chmod 0755 "$work/pack"
(cd "$work/a" && npm pack --pack-destination "$work/pack" >"$work/pack.log" 2>&1) || { echo "npm pack failed"; exit 1; }
chmod 0644 "$work"/pack/*.tgz
ROOTLESS_TEST_TARBALL=$(ls "$work"/pack/*.tgz)
export ROOTLESS_TEST_TARBALL
echo "two runs of npm test at $rev, started $(date +%T)"
for x in a b; do
	(cd "$work/$x" && npm test -- --tap 2>&1 | node scripts/tap-summary.mjs >"$work/$x.tap" 2>&1; echo "${PIPESTATUS[0]}" >"$work/$x.status") &
done
wait
status=0
for x in a b; do
	echo "run $x: $(tail -n 1 "$work/$x.tap") (exit $(cat "$work/$x.status"))"
	if [ "$(cat "$work/$x.status")" != 0 ]; then
		status=1
		grep -A 20 '^not ok' "$work/$x.tap" | head -60
	fi
done
echo "ended $(date +%T)"
exit "$status"
