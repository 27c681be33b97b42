"""The time bank's pages, one module per area: ``ledger`` (my points, statements, paper ledger,
reversals, first-service days), ``merchants`` (merchants, the member's QR code, scan and
redeem, reconciliation), ``members`` (memberships, payments, levels, referrals, leaderboard)."""
