#!/bin/sh
# Runs once, when the PostgreSQL data volume is first initialised (docker-entrypoint-initdb.d):
# creates the application's own role and database, separate from Temporal's.
# The password comes from the container environment (VILLE_DB_PASSWORD), never from this file.
set -eu

: "${VILLE_DB_PASSWORD:?VILLE_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     --set=ville_password="$VILLE_DB_PASSWORD" <<'SQL'
CREATE ROLE ville LOGIN PASSWORD :'ville_password';
CREATE DATABASE ville OWNER ville ENCODING 'UTF8';
SQL
