def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: starts dagster-daemon, Postgres storage, broker and producer (minutes)"
    )
