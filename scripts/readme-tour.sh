#!/usr/bin/env bash
# Runs every command line of the README's tour (the first sh block after
# "## A tour") as written, in a copy of the working tree, so the tour
# cannot rot: a flag renamed or an example that exits non-zero fails CI.
# `target serve` runs until it answers on 127.0.0.1:8080 and is then
# stopped with Ctrl-C; every other line must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar --exclude=./.git --exclude='./reports/*' -cf - . | tar -xf - -C "$work"
mkdir -p "$work/reports" && cp -r reports/baseline "$work/reports/"

mapfile -t lines < <(awk '
	/^## A tour/ { tour = 1; next }
	tour && /^```sh/ { block = 1; next }
	block && /^```/ { exit }
	block { print }
' README.md)
[ ${#lines[@]} -gt 0 ] || { echo "readme-tour: no sh block under '## A tour' in README.md" >&2; exit 1; }

cd "$work"
n=0
for line in "${lines[@]}"; do
	cmd=$(sed -E 's/[[:space:]]+#.*$//' <<<"$line")
	[ -n "$cmd" ] || continue
	n=$((n + 1))
	echo "readme-tour: \$ $cmd" >&2
	start=$(date +%s)
	if [[ $cmd == *"target serve"* ]]; then
		bash -c "exec $cmd" >/dev/null 2>&1 &
		pid=$!
		ok=0
		for _ in $(seq 1 100); do
			if curl -fsS -o /dev/null http://127.0.0.1:8080/metrics 2>/dev/null; then ok=1; break; fi
			sleep 0.1
		done
		kill -INT "$pid"
		code=0
		wait "$pid" || code=$?
		[ $ok = 1 ] || { echo "readme-tour: '$cmd' never answered on 127.0.0.1:8080" >&2; exit 1; }
		case $code in 0 | 130) ;; *) echo "readme-tour: '$cmd' exited $code when stopped" >&2; exit 1 ;; esac
	else
		bash -c "$cmd" >/dev/null || { echo "readme-tour: '$cmd' exited $?" >&2; exit 1; }
	fi
	echo "readme-tour: ok in $(($(date +%s) - start)) s" >&2
done
echo "readme-tour: all $n command lines of the tour ran" >&2
