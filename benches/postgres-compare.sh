#!/usr/bin/env bash
# The bank-account workload made durable on PostgreSQL, side by side: ro (kernel + the shared
# store's journal schema) and cqrs-es on postgres-es, one after the other on the same machine
# and server ($PGURL, default postgres://postgres@127.0.0.1:5432/test). The peer lives in
# benches/sqlite-es-peer's workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p ro-benches --bench store_pg 2>&1 | grep -E '^bank_durable|time:'
(cd benches/sqlite-es-peer && cargo bench --bench postgres_es 2>&1 | grep -E '^bank_durable|time:')
