"""Decision support: the governing guideline, criteria met or missed, and a calibrated p_overturn."""
