"""The review loop, built on core and agents: the bot's misses found in the tracker store, labelled
by supervisors, checked, scrubbed of personal data and exported as training data (`python -m review`).

Layer: above agents; imported by analytics and the review console's API (channels/review_console.py).
"""
