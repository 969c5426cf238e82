#!/usr/bin/env bash
# Runs the README's tour (the first sh block after "## A tour") as written,
# in one shell, in a copy of the working tree, so the tour cannot rot: a
# flag renamed or an example that exits non-zero fails CI. Background jobs
# the tour starts are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
tar --exclude=./.git --exclude='./reports/*' -cf - . | tar -xf - -C "$work"
mkdir -p "$work/reports" && cp -r reports/baseline "$work/reports/"

awk '
	/^## A tour/ { tour = 1; next }
	tour && /^```sh/ { block = 1; next }
	block && /^```/ { exit }
	block { print }
' README.md >"$work/tour.sh"
n=$(grep -cv '^[[:space:]]*\(#.*\)\?$' "$work/tour.sh" || true)
[ "$n" -gt 0 ] || { echo "readme-tour: no sh block under '## A tour' in README.md" >&2; exit 1; }

# Each line is echoed as it runs (set -x), stdout goes to a log, and the
# first line that fails stops the tour with its exit code.
cd "$work"
code=0
bash -c 'set -euo pipefail -x; trap "kill \$(jobs -p) 2>/dev/null || true" EXIT; source ./tour.sh' >"$work/tour.log" || code=$?
if [ "$code" -ne 0 ]; then
	tail -20 "$work/tour.log" >&2
	echo "readme-tour: the tour failed (exit $code)" >&2
	rm -rf "$work"
	exit 1
fi
rm -rf "$work"
echo "readme-tour: all $n command lines of the tour ran" >&2
