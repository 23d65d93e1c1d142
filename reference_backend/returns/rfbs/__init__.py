"""Return requests the seller decides (Ozon's rFBS returns, §13): a buyer files one through
the marketplace; the seller verifies, receives, refunds, compensates or rejects it."""
