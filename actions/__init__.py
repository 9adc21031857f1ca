"""Custom actions of the Douyin customer-service simulator, one module per concern."""
