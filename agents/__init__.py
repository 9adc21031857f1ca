"""The human agents' side, built on core: accounts and log-in sessions, roles and access to
transcripts (with the audit of every read and the masking of personal data), taking and handing over
chats, the user's place in the queue and leaving it (user_queue.py), live console events, notes,
canned facts, the context panel, the agents' ratings and the staffing estimate of the wait.

Layer: above core; imported by evidence, review, analytics and the Rasa adapters (actions, channels).
"""
