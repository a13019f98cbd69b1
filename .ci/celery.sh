# Sourced by .ci/run: a venv holding current Celery, so the exact-count integration tests run against
# it as well as against Debian's python3-celery (5.2). The venv is built once into a cache directory
# from pip's configured index and reused while it holds the pinned versions.
#
# Celery's own dependency list is not installed (--no-deps): click-didyoumean and click-repl, which
# only its command line imports, are not in every index, and the tests start workers without that
# command line (test/integration/celery/worker.py). The venv sees Debian's site-packages for one
# module only in practice: redis-py 6+ imports async_timeout on Python < 3.11.3 (Debian 12 ships
# 3.11.2), and python3-async-timeout comes with python3-redis; everything Celery needs is pinned
# here and takes precedence, which `worker.py --print-versions` below checks.
CELERY_CURRENT_VERSION=5.6.3
KOMBU_CURRENT_VERSION=5.6.2
CELERY_CURRENT_VENV="${CELERY_PULSE_CELERY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/celery-pulse/celery$CELERY_CURRENT_VERSION}"
CELERY_CURRENT_PACKAGES="celery==$CELERY_CURRENT_VERSION kombu==$KOMBU_CURRENT_VERSION billiard vine amqp click click-plugins
  python-dateutil six tzlocal tzdata redis packaging msgpack"

celery_current_versions() {
  "$CELERY_CURRENT_VENV/bin/python" "$(dirname "${BASH_SOURCE[0]}")/../test/integration/celery/worker.py" --print-versions 2>/dev/null
}

install_current_celery() {
  local want="celery $CELERY_CURRENT_VERSION kombu $KOMBU_CURRENT_VERSION"
  if [ "$(celery_current_versions)" != "$want" ]; then
    echo "== building a venv with Celery $CELERY_CURRENT_VERSION in $CELERY_CURRENT_VENV"
    rm -rf "$CELERY_CURRENT_VENV"
    mkdir -p "$(dirname "$CELERY_CURRENT_VENV")"
    /usr/bin/python3 -m venv --system-site-packages "$CELERY_CURRENT_VENV"
    # --retries 0: an index that cannot be reached fails now, not after minutes of back-off.
    # shellcheck disable=SC2086
    if ! "$CELERY_CURRENT_VENV/bin/pip" install --quiet --retries 0 --no-deps $CELERY_CURRENT_PACKAGES; then
      rm -rf "$CELERY_CURRENT_VENV"
      echo "!! FAILED: pip could not install Celery $CELERY_CURRENT_VERSION / kombu $KOMBU_CURRENT_VERSION from its index." >&2
      echo "!! The integration tests must run against current Celery too; fix pip's index (or set CELERY_PULSE_CELERY_VENV)." >&2
      return 1
    fi
    if [ "$(celery_current_versions)" != "$want" ]; then
      echo "!! FAILED: $CELERY_CURRENT_VENV imports '$(celery_current_versions)', not '$want'" >&2
      return 1
    fi
  fi
  echo "== current Celery for the tests: $(celery_current_versions) ($CELERY_CURRENT_VENV/bin/python)"
  export CELERY_PULSE_TEST_PYTHON_CURRENT="$CELERY_CURRENT_VENV/bin/python"
}
