"""The tracker store Rasa uses (endpoints*.yml `tracker_store: type: tracker_stores.<module>.<Class>`):
Rasa's SQL store with a cache of new conversations and the queue's activity touch.

Layer: a Rasa adapter, on top.
"""
