"""Developer tools that never ship: launchers of the local cloud stand-ins for the tests and
benchmarks (`python -m tools.emulators build`, run by `make emulators`), the constraints
export of the lock, and the one builder of cached tool venvs (`venvs`), which infra's checks
use too."""
