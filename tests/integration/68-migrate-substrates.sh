#!/usr/bin/env bash
# A live migration whose job talks to peers on different substrates: the soak of
# 98-migrate-soak (scripts/soak-migrate: a job with 8 TCP connections to jobs on n3 and
# n4 and a UDP flow from n3, moved between n1 and n2 with TCP_REPAIR while traffic
# flows), with every node on `[substrate] policy = udp` except that every node sends to
# n3 over tcp (`peer = n3:tcp`): every connection survives, 0 bytes lost, duplicated or
# corrupted.
# timeout: 240
# shares: migrate (TCP_REPAIR moves under full-rate streams: two at once starve each other)
export VNET_SUBSTRATE=udp VNET_SUBSTRATE_LINES="peer = n3:tcp"
exec "$(dirname "$0")/../../scripts/soak-migrate" --moves "${SOAK_MOVES:-4}"
