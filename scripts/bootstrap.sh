# Sourced by the Makefile: puts Node 24 on PATH, installs dependencies, with `--redis` makes sure
# a Redis answers on 127.0.0.1:6379, and with `--chromium` that Debian's Chromium is at
# /usr/bin/chromium (the console's browser test drives it). Safe to run again; does nothing twice.
# (Sourced, so `set -e` would not apply inside the caller's `&&` list: every step checks itself.)

bootstrap() {
  local redis=false chromium=false arg
  for arg in "$@"; do
    case "$arg" in
      --redis) redis=true ;;
      --chromium) chromium=true ;;
      *) echo "bootstrap: unknown option $arg" >&2; return 1 ;;
    esac
  done

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

  if $chromium && [ ! -x /usr/bin/chromium ]; then
    echo "bootstrap: installing Debian's chromium (for the console's browser test)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 \
      || { echo "bootstrap: apt-get install chromium failed; install Debian's chromium package (as root) and run again" >&2; return 1; }
    [ -x /usr/bin/chromium ] || { echo "bootstrap: chromium installed, but /usr/bin/chromium is missing" >&2; return 1; }
  fi

  if $redis && ! redis_answers; then
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
