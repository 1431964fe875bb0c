"""Live state on a lab host: watching labs, and the controls people use on them."""
