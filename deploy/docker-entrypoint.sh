#!/bin/sh
# Entry point of the Tally image: `api` (default), `worker` or `migrate`; anything else runs as a command.
set -e
cmd="${1:-api}"
case "$cmd" in
  api | worker | migrate)
    [ "$#" -gt 0 ] && shift
    exec node --import tsx "src/cli/$cmd.ts" "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
