#!/usr/bin/env bash
# The live-migration soak, short: scripts/soak-migrate --moves 6 (a job with 8 TCP
# connections to jobs on two other nodes and a UDP flow to it, moved n1 <-> n2 with
# TCP_REPAIR while traffic flows: every connection survives, 0 bytes lost, duplicated
# or corrupted; the UDP losses are counted). `scripts/soak-migrate --moves 100` is the
# long run.
# timeout: 300
# shares: migrate (TCP_REPAIR moves under full-rate streams: two at once starve each other)
exec "$(dirname "$0")/../../scripts/soak-migrate" --moves "${SOAK_MOVES:-6}"
