#!/usr/bin/env bash
# The long run of the kill test: kg_server (embedded, 2 partitions, --data_dir) is killed
# with SIGKILL under 4 writers of 200 x 3 KB entities per call plus an edge writer, ROUNDS
# times (default 200); after every restart each acknowledged write must be there and no
# edge may have only one copy. Prints how many restarts dropped a torn last log record.
# Builds first. Usage: tests/durability_soak.sh [ROUNDS]   (about 2 s a round)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-200}
BUILD_DIR=${BUILD_DIR:-build}
scripts/build.sh >/dev/null
start=$(date +%s)
KG_DURABILITY_ROUNDS=$ROUNDS "$BUILD_DIR/tests/integration/integration_durability_test" \
  --gtest_filter='DurabilityTest.EmbeddedSurvivesSigkillUnderLargeBatches' 2>&1 |
  grep -v "invalid UTF-8" | grep -E "kills under|OK|FAILED|Failure|PASSED|lost|whole|acknowledged" 
echo "rounds=$ROUNDS seconds=$(( $(date +%s) - start ))"
