"""Mail: outbound rendering and sending (``outbound``), inbound parsing and intake."""
