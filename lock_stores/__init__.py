"""Custom Rasa lock stores (referenced from endpoints.production.yml)."""
