"""Weekly livability model: indoor readings and outdoor weather in, one score vector per home."""
