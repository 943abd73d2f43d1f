#!/usr/bin/env bash
# Builds copybot and runs its whole test suite. Every networking test runs on 127.0.0.1 against
# the project's own stand-ins and a throwaway PostgreSQL server (scripts/postgres-test-server.sh,
# stopped at exit); nothing reaches the internet. With COPYBOT_TEST_POSTGRES_URL already set, that
# server is used instead. The PostgreSQL tests are required here: without a server they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${COPYBOT_TEST_POSTGRES_URL:-}" ]; then
    eval "$(bash scripts/postgres-test-server.sh start)"
    if [ "${COPYBOT_TEST_POSTGRES_STARTED:-0}" = 1 ]; then
        trap 'bash scripts/postgres-test-server.sh stop' EXIT
    fi
fi
export COPYBOT_TEST_POSTGRES_URL
export COPYBOT_REQUIRE_POSTGRES=1

swift build --build-tests
swift test --skip-build
