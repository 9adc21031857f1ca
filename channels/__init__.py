"""Rasa's input channels (credentials.yml) and the HTTP APIs served by the Rasa server: the web
widget's socket.io channel, the REST channel with its limits at the door, the agents' console API and
the supervisors' review API. Thin adapters over core, agents, evidence and review.

Layer: a Rasa adapter, on top; nothing but the commands imports it.
"""
