"""Reading and writing IMR Final Determination letters."""
