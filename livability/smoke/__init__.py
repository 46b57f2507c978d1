"""The smoke test of a deployed environment (`livability smoke`, `make smoke ENV=...`).

run    the steps: publish a tagged reading and a poison message through the real topic, wait
       until the reading is stored exactly once and the poison is a dead letter, run the weekly
       jobs for the last complete week, verify that week's archive manifest, clean up
jobs   how the weekly jobs are called: over HTTP (local, or from inside the project's
       network) or through their Cloud Scheduler jobs (a deployed environment, whose functions
       take internal traffic only)
"""
