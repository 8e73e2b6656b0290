#!/usr/bin/env bash
# Prepares this checkout on a fresh machine: a virtualenv with lambdalab and what it needs, the
# Debian tool for the offline runtime image where this is a root Debian machine, and the runtime
# image itself when a Docker engine answers. Safe to run again: each step is skipped when done.
# Usage: scripts/setup.sh EXTRAS     (EXTRAS: "lab", "test" or "lab,test")
set -euo pipefail
extras=${1:-lab}
top=$(cd "$(dirname "$0")/.." && pwd)
venv="$top/.venv"
python=${PYTHON:-python3}

say() { printf 'lambdalab: %s\n' "$*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  say "creating a virtualenv in .venv"
  "$python" -m venv "$venv"
fi
# The install is editable, so code changes need no reinstall: only a new pyproject.toml, other
# extras or another interpreter do. The stamp records what was installed last.
stamp="$venv/.lambdalab-installed-${extras//,/-}"
want="$(cat "$top/pyproject.toml" | sha256sum | cut -d' ' -f1) $extras $("$venv/bin/python" -V 2>&1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing lambdalab[$extras] into .venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # (the build backend warns that an editable install exists: that is the point of it)
  PYTHONWARNINGS=ignore::UserWarning "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$top[$extras]"
  printf '%s' "$want" > "$stamp"
else
  say "lambdalab[$extras] is installed and up to date in .venv"
fi

# The browser test drives JupyterLab in Debian's Chromium (no browser download exists here).
apt_updated=
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    # Another apt (unattended upgrades, a second kernel's setup) may hold the lock: wait for it
    # rather than fail with "Could not get lock".
    local wait=(-o DPkg::Lock::Timeout=600)
    [ -n "$apt_updated" ] || { apt-get "${wait[@]}" update -qq >/dev/null; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -qq "$@" >/dev/null
  else
    say "please install: $* (needs root and apt-get)"
  fi
}
case ",$extras," in
  *,test,*) if ! command -v chromium >/dev/null 2>&1; then say "installing chromium (browser test)"; apt_install chromium; fi ;;
esac

# A root machine with the engine installed but not running (a fresh CI box, a service that died):
# start it, as its init script would, and wait for it to answer.
if ! docker info >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -x /usr/sbin/dockerd ]; then
  say "starting the Docker engine"
  (service docker start >/dev/null 2>&1 || true)
  if ! timeout 5 docker info >/dev/null 2>&1; then
    setsid nohup /usr/sbin/dockerd >/var/log/lambdalab-dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 1; done
fi

if docker info >/dev/null 2>&1; then
  # No registry? The image is built offline with debootstrap, which needs root and the package.
  if [ "$(id -u)" = 0 ] && ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap (for an offline runtime image)"
    apt_install debootstrap
  fi
  say "runtime image: $("$venv/bin/python" -m lambdalab_ext.runtime.image --print-tag)"
else
  say "no Docker engine answers: functions will run in the process backend (weaker isolation)."
  say "start Docker and run this again for the real execution environments."
fi
