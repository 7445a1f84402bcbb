# Sourced by the Makefile: puts Node 24 on PATH, installs dependencies, and with `--redis` makes
# sure a Redis answers on 127.0.0.1:6379. Safe to run again; does nothing twice.
# (Sourced, so `set -e` would not apply inside the caller's `&&` list: every step checks itself.)

bootstrap() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" || return 1

  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt 24 ]; then
    if [ ! -x "$root/.tools/node_modules/.bin/node" ]; then
      echo "bootstrap: system Node is $(node --version 2>/dev/null || echo absent); installing Node 24 into .tools" >&2
      npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error node@24 >&2 || return 1
    fi
    export PATH="$root/.tools/node_modules/.bin:$PATH"
  fi

  # npm ci installs exactly the lock file and fails when it is out of step with package.json.
  # node_modules/.package-lock.json is npm's record of the last install: skip when it is current.
  if [ ! -f "$root/node_modules/.package-lock.json" ] \
    || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ] \
    || [ "$root/package.json" -nt "$root/node_modules/.package-lock.json" ]; then
    echo "bootstrap: installing dependencies (npm ci)" >&2
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) >&2 || { echo "bootstrap: npm ci failed" >&2; return 1; }
  fi

  if [ "${1:-}" = "--redis" ] && ! redis_answers; then
    if ! command -v redis-server >/dev/null; then
      echo "bootstrap: installing redis-server" >&2
      { apt-get update -qq && apt-get install -y -qq redis-server; } >&2 || return 1
    fi
    echo "bootstrap: starting a local redis-server on 127.0.0.1:6379" >&2
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >&2 || return 1
    local i
    for i in $(seq 1 50); do redis_answers && break; sleep 0.1; done
    redis_answers || { echo "bootstrap: redis-server did not answer" >&2; return 1; }
  fi
}

redis_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && IFS= read -r -t 2 line <&3 && [[ $line == +PONG* ]]) 2>/dev/null
}

bootstrap "$@"
