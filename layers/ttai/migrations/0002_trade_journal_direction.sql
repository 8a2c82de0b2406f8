-- Which way a journal entry was opened: 'long' paid a net debit, 'short' received a net credit. entry_price and
-- exit_price stay non-negative amounts per unit (0001's CHECKs); the direction gives the computed pnl its sign.
ALTER TABLE trade_journal
    ADD COLUMN direction text NOT NULL DEFAULT 'long' CHECK (direction IN ('long', 'short'));
