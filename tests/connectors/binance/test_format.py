from connectors.binance.trading import fmt_num


def test_numbers_are_sent_as_shortest_plain_decimals() -> None:
    assert fmt_num(59891.9) == "59891.9"          # f"{x:.12f}" gave 59891.900000000001 (-4014)
    assert fmt_num(1e-05) == "0.00001"            # never an exponent
    assert fmt_num(100.0) == "100"
    assert fmt_num(0.0) == "0"
    assert fmt_num("0.00100") == "0.00100"        # strings pass through untouched
