# Source me: the pip-mode workspace (colcon install chained onto .venv) + DDS settings.
# shellcheck shell=bash disable=SC1091
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/install/setup.bash"
# Large messages (images, clouds) over Fast DDS: 24 ms -> 3 ms for 1.6 MB (DESIGN.md §2).
export FASTDDS_BUILTIN_TRANSPORTS=${FASTDDS_BUILTIN_TRANSPORTS:-LARGE_DATA}
# Fast DDS profiles of named topics (the inspection cell's large sensor messages: heartbeat
# 100 ms, not 3 s; config/fastdds_profiles.xml says why).
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/config/fastdds_profiles.xml}
