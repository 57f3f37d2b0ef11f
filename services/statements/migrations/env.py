from services.common.migrations import run_migrations
from services.statements.tables import metadata

run_migrations(metadata)
