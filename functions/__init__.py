"""Cloud Functions (gen2) of the platform; each entry point lives in `main.py`."""
