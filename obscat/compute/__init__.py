"""Computation from the data files: IRFs, IRF features, pointing."""
