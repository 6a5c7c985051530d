"""Open Badges 2.0 and 3.0: documents, issuer keys, signing, baking, status lists, verification.

Everything here works offline: JSON-LD contexts and schemas ship in `app/badges/data/`.
"""
