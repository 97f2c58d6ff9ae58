"""Getting data in: the Hub crawler, card normalisation, snapshot import and export."""
