"""State changes of the employment-agreement app (one user intent each, one transaction)."""
