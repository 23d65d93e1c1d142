"""Hand-over documents (§14): the act (carriage) of a delivery method's assembled postings,
its status, the act, waybill and container-label PDFs, the hand-over barcode, act lists and
the postings an act covers."""
