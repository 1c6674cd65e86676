#!/usr/bin/env bash
# Print the compat/ interface packages that the given Python can already import (system ROS
# or PyPI wheels): colcon must skip those, so our definitions never shadow the real ones.
# Usage: tools/compat_present.sh [python]
py=${1:-python3}
cd "$(dirname "$0")/.."
# Our own install/ does not count (a sourced workspace would otherwise hide a missing package).
PYTHONPATH=$(tr ':' '\n' <<<"${PYTHONPATH:-}" | grep -v "^$PWD/install/" | paste -sd:)
export PYTHONPATH
for dir in src/compat/*/; do
  pkg=$(basename "$dir")
  "$py" -c "import $pkg.msg" 2>/dev/null && echo "$pkg"
done
exit 0
