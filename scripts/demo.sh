#!/usr/bin/env bash
# The main job: set up, generate the demo clinic, build the warehouse, serve the dashboard.
# Extra arguments go to `clinic-analytics demo` (e.g. --scale 10, --port 8600, --no-dashboard).
source "$(dirname "$0")/setup.sh"
exec clinic-analytics demo "$@"
