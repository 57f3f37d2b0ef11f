from services.common.migrations import run_migrations
from services.credit.tables import metadata

run_migrations(metadata)
