"""Buyer chats (§12): one chat per posting between its buyer and the seller; history with
paging, text and file messages (stored, size-bounded), read marks, starting a chat about a
posting. Buyers write through ``/marketplace/v1``; each buyer message and read mark is a push
notification (§9.4) through the outbox."""
