"""yerbnet: find Guayakí yerba-mate products in Instagram photos."""
