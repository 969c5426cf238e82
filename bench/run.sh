#!/usr/bin/env bash
# The generator benchmark: bestbefore side by side with vegeta, each pinned
# to core 0, a fixed-response loopback server pinned to core 1. Prints a
# Markdown report and writes it to bench/results/<date>.md.
#
#   bench/run.sh [--quick] [--head] [harness flags...]
#
#   --quick   3 s runs, one repetition (about 40 s); the default run (three
#             repetitions of 10 s at 1k, 5k and 10k QPS, then the maximum
#             sustained rate) takes about 4-5 minutes
#   --head    measure the last commit (built from `git archive HEAD`)
#             instead of the working tree
#
# Environment: BESTBEFORE=path uses that binary instead of building one;
# VEGETA=path uses that vegeta instead of installing it into .bench/bin;
# GHZ=path uses that ghz (the gRPC comparison) likewise.
# See docs/benchmark.md for what is measured and how to read it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$root/.bench/bin
mkdir -p "$bin" bench/results

quick=() head=0 args=()
for a in "$@"; do
	case $a in
	--quick) quick=(-quick) ;;
	--head) head=1 ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) args+=("$a") ;;
	esac
done

if ! command -v taskset >/dev/null; then
	echo "bench: taskset not found; install util-linux (apt-get install -y util-linux)" >&2
	exit 2
fi
if [ "$(nproc)" -lt 2 ]; then
	echo "bench: needs at least 2 cores (generator on one, server on the other)" >&2
	exit 2
fi

vegeta=${VEGETA:-$bin/vegeta}
if [ ! -x "$vegeta" ]; then
	echo "bench: installing vegeta into $bin (a benchmark tool, not a dependency)" >&2
	GOBIN=$bin go install github.com/tsenart/vegeta/v12@latest
fi

ghz=${GHZ:-$bin/ghz}
if [ ! -x "$ghz" ]; then
	echo "bench: installing ghz into $bin (a benchmark tool, not a dependency)" >&2
	GOBIN=$bin go install github.com/bojand/ghz/cmd/ghz@v0.120.0
fi

label=$(git describe --always --dirty 2>/dev/null || echo unknown)
if [ -n "${BESTBEFORE:-}" ]; then
	bestbefore=$BESTBEFORE
	label="$BESTBEFORE"
elif [ $head = 1 ]; then
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	git archive HEAD | tar -x -C "$src"
	(cd "$src" && go build -o "$bin/bestbefore" .)
	bestbefore=$bin/bestbefore
	label="commit $(git rev-parse --short HEAD)"
else
	go build -o "$bin/bestbefore" .
	bestbefore=$bin/bestbefore
	label="working tree $label"
fi
go build -o "$bin/benchserver" ./bench/server
go build -o "$bin/harness" ./bench/harness

out=bench/results/$(date -u +%Y-%m-%d-%H%M).md
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) (the figures are only as quiet as the machine)" >&2
"$bin/harness" -bestbefore "$bestbefore" -vegeta "$vegeta" -ghz "$ghz" -server "$bin/benchserver" \
	-label "bestbefore $label" "${quick[@]}" "${args[@]}" | tee "$out.tmp"
mv "$out.tmp" "$out"
echo "bench: written $out" >&2
