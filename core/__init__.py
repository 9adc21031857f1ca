"""The service's core, the ground every other package stands on: the knowledge (`knowledge/` read as
data), the answer logic (the case × the aspect asked), the wording of replies, the service clock and
hours, and the service database (tickets, the queue, ratings, evidence records).

It imports nothing from Rasa's adapters (`actions/`, `channels/`) nor from the packages built on it
(`agents/`, `evidence/`, `analytics/`, `review/`); `make test` checks this with import-linter.
"""
