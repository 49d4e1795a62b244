"""The demo world (``manage.py seed_demo``): generated, linked sample data for development and the admin tour.

Not part of the product: it lives outside the domain apps and may use randomness, which services and tools never
do. It imports every domain app; nothing imports it.
"""
