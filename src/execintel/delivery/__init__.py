"""Delivery: reports become MIME messages (:mod:`.compose`) handed to a mailer (:mod:`.mailers`)."""
