#!/usr/bin/env bash
# Builds copybot and runs its whole test suite. Every networking test runs on 127.0.0.1 against
# the project's own stand-ins; nothing reaches the internet.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
