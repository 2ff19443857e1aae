"""DBN MBO input: records as numpy structured arrays, decoded with databento-dbn."""
