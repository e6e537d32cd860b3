#!/usr/bin/env bash
# Run once by the postgres image when it initialises an empty data volume: the application role and
# its database, as ops/lib/servers.sh provisions them for a native server. Later password changes are
# not applied here (servers.sh re-provisions on every `up`; a compose-only stack needs `down -v`).
set -e
psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v apw="${AGENTBUS_POSTGRES_AGENTBUS_PASSWORD:?AGENTBUS_POSTGRES_AGENTBUS_PASSWORD is not set}" <<'SQL'
SELECT 'CREATE ROLE agentbus LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentbus') \gexec
ALTER ROLE agentbus LOGIN PASSWORD :'apw';
SELECT 'CREATE DATABASE agentbus OWNER agentbus' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'agentbus') \gexec
ALTER DATABASE agentbus OWNER TO agentbus;
SQL
