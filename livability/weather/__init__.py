"""The weather poller: OpenWeatherMap current weather → `weather_data` rows on Pub/Sub."""
