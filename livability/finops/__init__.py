"""FinOps: the monthly cost per service of a deployment, from dated prices and row sizes."""
