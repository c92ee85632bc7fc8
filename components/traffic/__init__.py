"""The traffic domain: the ingress controller, per-host Ingresses and cert-manager's issuers."""
