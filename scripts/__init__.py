"""Command-line helpers of the project (run with the project root as the working directory)."""
