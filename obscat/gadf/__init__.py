"""Reading GADF data stores: index tables, FITS files, times; and writing sample ones."""
