"""Finance (§15): the seller's accruals, derived from what happened to the postings (sales,
commissions, logistics, returns and refunds), their totals, and the monthly realization
report; the tariffs they apply are settings (:mod:`.tariffs`)."""
