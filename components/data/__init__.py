"""The data domain: data stores declared by config, run in the cluster, backed up."""
