"""FBS postings: lists and get (§5.1-§5.6), status transitions, and what buyers and
logistics do to postings; assembly, labels and seller-side status changes in sub-packages."""
