"""The test suite. Its folders mirror the packages (`tests/<package>/`), each a package, so a
helper is imported by its full name (`tests.support.paths`) and fixtures live in conftests."""
