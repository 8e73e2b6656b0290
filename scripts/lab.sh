#!/usr/bin/env bash
# Starts the lab: installs what it needs, builds the runtime image, opens JupyterLab on notebooks/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" lab
cd "$top/notebooks"
exec "$top/.venv/bin/jupyter" lab "$@"
