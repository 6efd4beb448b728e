"""Data files and loaders: HDF5 tensor files, flow label files, sequential datasets."""
