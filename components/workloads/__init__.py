"""The workloads domain: one microservice and every object a production service needs."""
