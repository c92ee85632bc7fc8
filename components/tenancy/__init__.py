"""The tenancy domain: namespaces with quotas and network policy, shared Secrets and ConfigMaps."""
