from tests.api.fixtures import app, client, database_url, db, world

__all__ = ["app", "client", "database_url", "db", "world"]
