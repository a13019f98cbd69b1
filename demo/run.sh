#!/usr/bin/env bash
# The demo: a local redis-server, a real Celery worker with a workload (a flaky task that fails 70%
# of the time and retries, successes, failures, slow tasks, workflows), the celery-pulse daemon,
# a Prometheus scraping it with the shipped rules (alerts/celery-pulse.rules.yaml, unchanged) and
# an Alertmanager receiving its alerts, all on loopback (Debian's prometheus and
# prometheus-alertmanager). Runs until Ctrl-C and stops everything it started.
# Ports: DEMO_REDIS_PORT (16379), DEMO_LISTEN_ADDRESS (127.0.0.1:9808), DEMO_PROMETHEUS_PORT (9090),
# DEMO_ALERTMANAGER_PORT (9093).
# test/integration/demo.test.ts runs this script (on free ports, DEMO_BUILD=0 as the suite has
# built already) and waits for an alert in Alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT="${DEMO_REDIS_PORT:-16379}"
LISTEN="${DEMO_LISTEN_ADDRESS:-127.0.0.1:9808}"
PROMETHEUS_PORT="${DEMO_PROMETHEUS_PORT:-9090}"
ALERTMANAGER_PORT="${DEMO_ALERTMANAGER_PORT:-9093}"
BROKER="redis://127.0.0.1:${REDIS_PORT}/0"
PROMETHEUS="http://127.0.0.1:${PROMETHEUS_PORT}"
ALERTMANAGER="http://127.0.0.1:${ALERTMANAGER_PORT}"

. .ci/deps.sh
install_debian_packages
. .ci/node.sh
if [ ! -d node_modules ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --silent
fi
if [ "${DEMO_BUILD:-1}" != 0 ]; then
  echo "== npm run build"
  npm run --silent build
fi

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

# Alerts are grouped per alert and task; the receiver sends nothing anywhere: the demo shows what
# Alertmanager received in its UI and API.
cat >"$work/alertmanager.yml" <<YAML
route:
  receiver: demo
  group_by: [alertname, name]
  group_wait: 5s
receivers:
  - name: demo
YAML
echo "== Alertmanager on ${ALERTMANAGER}"
# An empty cluster address: one Alertmanager, no gossip port.
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/alertmanager" \
  --web.listen-address="127.0.0.1:${ALERTMANAGER_PORT}" --cluster.listen-address= >"$work/alertmanager.log" 2>&1 &
pids+=($!)

# The rules as shipped; a 5 s scrape and evaluation so the first alerts show within a minute.
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $PWD/alerts/celery-pulse.rules.yaml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:${ALERTMANAGER_PORT}']
scrape_configs:
  - job_name: celery-pulse
    static_configs:
      - targets: ['${LISTEN}']
YAML
echo "== Prometheus on ${PROMETHEUS}"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address="127.0.0.1:${PROMETHEUS_PORT}" >"$work/prometheus.log" 2>&1 &
pids+=($!)

cat <<TXT

celery-pulse is running.
  metrics:       http://${LISTEN}/metrics
  ready:         http://${LISTEN}/readyz
  Prometheus:    ${PROMETHEUS}/alerts      (the shipped rules, evaluated every 5 s)
  Alertmanager:  ${ALERTMANAGER}/#/alerts  (what Prometheus sent it)
  logs:          $work/{celery-pulse,worker,workload,redis,prometheus,alertmanager}.log

What to look at:
  - within a minute: CeleryTaskNewExceptionClass fires in Prometheus and shows in Alertmanager.
    This Prometheus has no history, so each exception a task raises is new to it, once: the
    flaky task's TimeoutError after its last retry, pulse.fail_value's ValueError.
  - at once, pending: CeleryTaskRetryStorm for pulse.flaky (about two retries per run) and
    CeleryTaskFailureRatioHigh for pulse.flaky and pulse.fail_value; both fire after their
    shipped 'for: 5m', and then reach Alertmanager too.
  - curl -s http://${LISTEN}/metrics | grep '^celery_task_'
  - the dashboards in dashboards/ need a Grafana: deploy/compose/ has one with them provisioned.
Ctrl-C stops the demo.
TXT
wait "${pids[@]}"
