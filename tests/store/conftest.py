from tests.api.fixtures import app, client, database_url, db, live_server, world

__all__ = ["app", "client", "database_url", "db", "live_server", "world"]
