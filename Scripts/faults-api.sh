#!/usr/bin/env bash
# Fault injection on the challenge API and the store (issue 15), each case
# printing its figures: a bad-password flood while a legitimate client
# updates, slowloris on the API, kill -9 under 50 concurrent writers, a
# disk that fills up (small tmpfs), PostgreSQL stopped and restarted under
# write load with two replicas, corrupt and foreign SQLite files at start.
#
#   Scripts/faults-api.sh [CASE ...]      (flood slowloris kill9 diskfull postgres badfile)
#
# Uses the debug build (CDNSD=path for another binary); needs root for the
# tmpfs mount and for running PostgreSQL as the postgres user.
set -euo pipefail
cd "$(dirname "$0")/.."
cdnsd="${CDNSD:-$(swift build --show-bin-path)/cdnsd}"
[ -x "$cdnsd" ] || { echo "faults-api.sh: no $cdnsd (swift build first)" >&2; exit 1; }
exec python3 Scripts/faults_api.py "$cdnsd" "$@"
