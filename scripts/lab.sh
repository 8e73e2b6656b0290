#!/usr/bin/env bash
# Starts the lab: installs what it needs, builds the runtime image, opens JupyterLab on notebooks/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" lab
cd "$top/notebooks"
# JupyterLab refuses to run as root unless told; a container or a lab machine often is root.
if [ "$(id -u)" = 0 ]; then
  printf 'lambdalab: running JupyterLab as root (--allow-root); on a shared machine run it as a user\n' >&2
  set -- --allow-root "$@"
fi
exec "$top/.venv/bin/jupyter" lab "$@"
