"""Read-side computations of the health tools, one module per topic."""
