"""The weather poller: OpenWeatherMap current weather → `weather_data` rows on Pub/Sub.

One module per job:

- `settings`: the poller's settings (`WeatherSettings.from_env`), read once by its entry point.
- `locations`: which points to call: configured, or the homes' locations on a grid, cached.
- `secret`: the API key, from Secret Manager or the variable.
- `client`: OpenWeatherMap over HTTP (the only module that speaks it): one deadline per tick
  over every wait and read, pacing, 429 backoff, answers capped, no redirect followed.
- `redact`: the key out of every string of a reply, any piece of 8 characters or more.
- `mapping`: a current-weather body → a `weather_data` row.
- `poller`: one tick: select, call, map, skip what was sent, publish, record.
- `errors`: the failures, by family.

Entry points: `functions/weather.py` (Cloud Scheduler) and `livability weather poll`.
"""
