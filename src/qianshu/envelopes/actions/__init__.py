"""The state changes of envelopes, one module per topic: compose (drafts, documents,
recipients, fields, sending), turns (sign, seal, approve, reject, view), confirmations (PIN or
SMS code before signing), batch (批量签署), returns (退回 and sending again), lifecycle
(completion, recall, expiry, reminders), voiding (作废), downloads and archives (renewal)."""
