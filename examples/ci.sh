#!/bin/sh
# A capacity gate for any CI system: run a scenario K times, compare the runs
# with a baseline, print the Markdown verdict, and exit with compare's code.
#
#   examples/ci.sh SCENARIO BASELINE [OUT]
#
#   SCENARIO  the scenario file (its gate: section sets the thresholds)
#   BASELINE  a result.json, or a directory of runs (BASELINE/*/result.json),
#             e.g. one written by `bestbefore run SCENARIO --repeat 5 --out BASELINE`
#   OUT       where the runs and reports go (default reports/ci)
#
# Exit codes: 0 pass (or inconclusive), 1 regression, 2 bad input,
# 3 the run could not be carried out, 130 interrupted.
# Environment: REPEAT (runs of the candidate, default 3), BESTBEFORE (the
# binary, default bestbefore on PATH), STRICT=1 (inconclusive fails too).
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 SCENARIO BASELINE [OUT]" >&2
	exit 2
fi
scenario=$1
baseline=$2
out=${3:-reports/ci}
repeat=${REPEAT:-3}
bb=${BESTBEFORE:-bestbefore}
strict=
if [ "${STRICT:-0}" = 1 ]; then
	strict=--strict
fi

rm -rf "$out/candidate"
mkdir -p "$out"
"$bb" run "$scenario" --repeat "$repeat" --out "$out/candidate" --quiet >"$out/run.txt"
code=$?
if [ "$code" -ne 0 ]; then
	cat "$out/run.txt" >&2
	echo "ci.sh: the run failed (exit $code); nothing to compare" >&2
	exit "$code"
fi

rm -f "$out/compare.md"
# shellcheck disable=SC2086 # $strict is empty or one flag
"$bb" compare "$baseline" "$out/candidate" --scenario "$scenario" $strict \
	--markdown "$out/compare.md" --junit "$out/compare.junit.xml" >"$out/compare.txt"
code=$?
if [ -f "$out/compare.md" ]; then
	cat "$out/compare.md"
else
	cat "$out/compare.txt"
fi
case "$code" in
0) echo "ci.sh: pass" >&2 ;;
1) echo "ci.sh: regression (or inconclusive with STRICT=1) against $baseline" >&2 ;;
*) echo "ci.sh: compare failed (exit $code)" >&2 ;;
esac
exit "$code"
