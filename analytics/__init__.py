"""Service analytics, built on core, agents and review: figures from the tracker store and the
service tables (containment, CSAT, service levels, the agents' figures) and the HTML report.

Layer: above review and evidence; imported only by the commands (scripts/report.py).
"""
