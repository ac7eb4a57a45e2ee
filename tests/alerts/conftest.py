from tests.api.fixtures import database_url, db

__all__ = ["database_url", "db"]
