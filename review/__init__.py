"""The review loop: the bot's misses in the tracker store, labelled by supervisors, back into training."""
