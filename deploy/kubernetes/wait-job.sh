#!/bin/sh
# Wait for a Job to finish, and say how: exit 0 once it is Complete, 1 as
# soon as it is Failed (kubectl wait --for=condition=complete alone would
# block until its timeout on a failed Job), 2 on timeout.
#
#   deploy/kubernetes/wait-job.sh JOB [TIMEOUT]      TIMEOUT: 90s, 10m, 1h (default 1h)
set -eu
job=$1
limit=${2:-1h}
case $limit in
*h) secs=$((${limit%h} * 3600)) ;;
*m) secs=$((${limit%m} * 60)) ;;
*s) secs=${limit%s} ;;
*) secs=$limit ;;
esac
end=$(($(date +%s) + secs))
while :; do
	state=$(kubectl get "job/$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
	case $state in
	*Complete*) exit 0 ;;
	*Failed*)
		echo "wait-job: job/$job failed; see kubectl logs job/$job" >&2
		exit 1
		;;
	esac
	if [ "$(date +%s)" -ge "$end" ]; then
		echo "wait-job: job/$job did not finish within $limit" >&2
		exit 2
	fi
	sleep 5
done
