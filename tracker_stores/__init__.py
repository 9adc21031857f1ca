"""Tracker stores of the project (endpoints*.yml `tracker_store: type: tracker_stores.<module>.<Class>`)."""
