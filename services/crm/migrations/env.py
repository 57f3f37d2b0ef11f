from services.common.migrations import run_migrations
from services.crm.tables import metadata

run_migrations(metadata)
