"""Service analytics: figures from the tracker store and the service tables, and the HTML report."""
