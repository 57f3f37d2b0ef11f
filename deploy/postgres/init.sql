-- Staging only (compose.yaml): one role and one database per service, so no service can read or
-- write another's tables. Runs once, when the data volume is empty. The passwords are staging
-- placeholders; production databases are provisioned separately with real secrets.
-- Each role owns its database, so its migrations can create tables in the public schema
-- (PostgreSQL 15+ no longer lets every role create there).

CREATE ROLE credit LOGIN PASSWORD 'credit-staging';
CREATE ROLE crm LOGIN PASSWORD 'crm-staging';
CREATE ROLE statements LOGIN PASSWORD 'statements-staging';

CREATE DATABASE credit OWNER credit;
CREATE DATABASE crm OWNER crm;
CREATE DATABASE statements OWNER statements;

-- New databases let PUBLIC connect by default; only the owning service may.
REVOKE CONNECT ON DATABASE credit FROM PUBLIC;
REVOKE CONNECT ON DATABASE crm FROM PUBLIC;
REVOKE CONNECT ON DATABASE statements FROM PUBLIC;
