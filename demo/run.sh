#!/usr/bin/env bash
# The demo: a local redis-server, a real Celery worker with a workload (a flaky task that fails 70%
# of the time and retries, successes, failures, slow tasks, workflows) and the celery-pulse daemon.
# Runs until Ctrl-C and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT="${DEMO_REDIS_PORT:-16379}"
LISTEN="${DEMO_LISTEN_ADDRESS:-127.0.0.1:9808}"
BROKER="redis://127.0.0.1:${REDIS_PORT}/0"

. .ci/deps.sh
install_debian_packages
. .ci/node.sh
if [ ! -d node_modules ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --silent
fi
echo "== npm run build"
npm run --silent build

work=$(mktemp -d)
pids=()
cleanup() {
  echo; echo "== stopping the demo"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
# Ctrl-C or a TERM exits, and the EXIT trap then cleans up once.
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== redis-server on 127.0.0.1:${REDIS_PORT}"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "== celery-pulse on http://${LISTEN}"
MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 dist/cli.js --broker-url "$BROKER" --listen-address "$LISTEN" >"$work/celery-pulse.log" 2>&1 &
pids+=($!)

echo "== Celery worker demo@%h (Debian's python3-celery, events on)"
(cd test/integration/celery && PULSE_BROKER="$BROKER" exec /usr/bin/python3 -m celery -A pulseapp worker -E -n 'demo@%h' -c 4 -l WARNING) >"$work/worker.log" 2>&1 &
pids+=($!)

PULSE_BROKER="$BROKER" /usr/bin/python3 demo/workload.py >"$work/workload.log" 2>&1 &
pids+=($!)

cat <<TXT

celery-pulse is running.
  metrics:  http://${LISTEN}/metrics
  ready:    http://${LISTEN}/readyz
  logs:     $work/{celery-pulse,worker,workload,redis}.log

Try:  curl -s http://${LISTEN}/metrics | grep '^celery_task_'
Ctrl-C stops the demo.
TXT
wait "${pids[@]}"
