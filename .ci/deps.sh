# Sourced by .ci/run and demo/run.sh: the Debian packages the tests and the demo run for real.
# redis-server, rabbitmq-server: the brokers; python3-celery (+redis, msgpack): real workers;
# prometheus, prometheus-alertmanager: promtool, a real Prometheus and Alertmanager for the rules,
# dashboard and demo tests; busybox: the npm bin is run with BusyBox's tools only; kubectl (from
# Debian's kubernetes-client) renders the kustomize overlays.
DEBIAN_PACKAGES="redis-server rabbitmq-server python3-celery python3-redis python3-msgpack prometheus prometheus-alertmanager busybox openssl procps"
# Some images ship kubectl from a `kubectl` package that conflicts with kubernetes-client.
command -v kubectl >/dev/null 2>&1 || DEBIAN_PACKAGES="$DEBIAN_PACKAGES kubernetes-client"
# deploy/compose is checked with `docker compose config`, or Debian's docker-compose where the
# Docker client has no compose plugin (neither needs an engine for that).
docker compose version >/dev/null 2>&1 || DEBIAN_PACKAGES="$DEBIAN_PACKAGES docker-compose"

missing_debian_packages() {
  local missing=""
  for p in $DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  echo "$missing"
}

install_debian_packages() {
  local missing
  missing=$(missing_debian_packages)
  if [ -n "$missing" ]; then
    echo "== apt-get install$missing"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    # Package scripts must not start the services: the tests start their own on free ports.
    local own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
      $sudo chmod +x /usr/sbin/policy-rc.d
      own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ -n "$own_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
  fi
}
