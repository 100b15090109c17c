"""Small-sample inference for fixed effects: Satterthwaite and Kenward-Roger."""
