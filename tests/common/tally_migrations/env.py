from services.common.migrations import run_migrations
from tests.common.tally_service import metadata

run_migrations(metadata)
