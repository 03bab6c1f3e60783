#!/bin/sh
# Entrypoint of both worker images (and usable outside a container): checks
# the settings a worker in a cluster needs, then execs the worker so that
# SIGTERM from the kubelet reaches Node and starts the graceful shutdown.
#
#   entrypoint.sh orchestrator|gpu      (or WINNOW_WORKER_KIND)
#   WINNOW_APP_DIR          where dist/ lives (default: two folders above this script, or /app)
#   TEMPORAL_API_KEY_FILE   read the Temporal Cloud API key from this file (a mounted Secret)
#   WINNOW_REQUIRE_SHARED_STORAGE=1   refuse a storage root other than gs:// (hosts share no disk)
set -eu

kind="${1:-${WINNOW_WORKER_KIND:-}}"
case "$kind" in
  orchestrator | gpu) ;;
  *)
    echo "[entrypoint] worker kind must be orchestrator or gpu (first argument or WINNOW_WORKER_KIND), got '$kind'" >&2
    exit 64
    ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${WINNOW_APP_DIR:-}" ]; then
  app="$WINNOW_APP_DIR"
elif [ -f "$here/dist/workers/$kind.js" ]; then
  app="$here"
else
  app="$(cd "$here/../.." && pwd)"
fi
main="$app/dist/workers/$kind.js"
if [ ! -f "$main" ]; then
  echo "[entrypoint] $main not found; build with npm run build, or set WINNOW_APP_DIR to the folder that holds dist/" >&2
  exit 66
fi

if [ -n "${TEMPORAL_API_KEY_FILE:-}" ]; then
  if [ ! -r "$TEMPORAL_API_KEY_FILE" ]; then
    echo "[entrypoint] TEMPORAL_API_KEY_FILE=$TEMPORAL_API_KEY_FILE cannot be read; mount the Secret that holds the API key there" >&2
    exit 66
  fi
  TEMPORAL_API_KEY="$(tr -d '\r\n' <"$TEMPORAL_API_KEY_FILE")"
  export TEMPORAL_API_KEY
fi

if [ "${WINNOW_REQUIRE_SHARED_STORAGE:-}" = 1 ]; then
  case "${WINNOW_STORAGE_ROOT:-}" in
    gs://*) ;;
    *)
      echo "[entrypoint] WINNOW_STORAGE_ROOT='${WINNOW_STORAGE_ROOT:-}': workers on several hosts share no disk; set a gs://bucket/prefix root" >&2
      exit 64
      ;;
  esac
fi

# The shutdown grace must fit in the pod's terminationGracePeriodSeconds, or the kubelet kills the worker mid-checkpoint.
if [ -n "${WINNOW_TERMINATION_GRACE_SECONDS:-}" ] && [ -n "${WINNOW_SHUTDOWN_GRACE_SECONDS:-}" ] &&
  [ "$WINNOW_SHUTDOWN_GRACE_SECONDS" -ge "$WINNOW_TERMINATION_GRACE_SECONDS" ]; then
  echo "[entrypoint] WINNOW_SHUTDOWN_GRACE_SECONDS=$WINNOW_SHUTDOWN_GRACE_SECONDS must be below the pod's terminationGracePeriodSeconds ($WINNOW_TERMINATION_GRACE_SECONDS)" >&2
  exit 64
fi

echo "[entrypoint] starting the $kind worker ($main) against ${TEMPORAL_ADDRESS:-localhost:7233}, namespace ${TEMPORAL_NAMESPACE:-default}" >&2
exec node "$main"
