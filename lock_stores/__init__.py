"""The lock store Rasa uses with several servers (endpoints.production.yml).

Layer: a Rasa adapter, on top.
"""
