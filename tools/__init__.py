"""Developer tools that never ship: launchers of the local cloud stand-ins for the tests and
benchmarks (`python -m tools.emulators build`, run by `make emulators`)."""
