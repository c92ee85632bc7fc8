"""Pulumi components of the GKE microservice platform."""
