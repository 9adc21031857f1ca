"""Rasa's custom actions (`rasa run actions --actions actions`), one module per concern: thin
adapters that read the tracker, ask core for the answer (core/answers.py: the case × the aspect),
agents for the queue and evidence for the upload offer, and send the reply.

Layer: a Rasa adapter, on top; nothing but the commands imports it.
"""
