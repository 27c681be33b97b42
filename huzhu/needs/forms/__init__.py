"""Forms of the needs pages, one module per area: they parse and bound input; the rules live
in the actions (huzhu.needs.actions), scope is checked there and in the views."""
