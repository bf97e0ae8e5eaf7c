#!/usr/bin/env bash
# cluster_pg_three.sh - cluster_pg.sh with three `serve` nodes on one PostgreSQL (issue 18: "two and
# three"): the SMTP load spread over three nodes, the same messages sent to two of them at once,
# one SIGKILLed mid-load and restarted; every acknowledged message archived once, activities and
# webhooks exactly once, the scheduled jobs led by running nodes. A test of its own so that ctest
# runs it beside the two-node one.
CLUSTER_NODES=3 source "$(dirname "$0")/cluster_pg.sh"
