#!/usr/bin/env bash
# The bank-account workload made durable on SQLite, side by side: ro (kernel + the store's
# journal table) and cqrs-es on sqlite-es, one after the other on the same machine. The peer
# lives in its own workspace (sqlx and rusqlite link different SQLite versions).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p ro-benches --bench store -- bank_durable 2>&1 | grep -E '^bank_durable|time:'
(cd benches/sqlite-es-peer && cargo bench --bench sqlite_es 2>&1 | grep -E '^bank_durable|time:')
