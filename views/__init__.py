"""One Blueprint per area; views parse input, call the domain and render."""
