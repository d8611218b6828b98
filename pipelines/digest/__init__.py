"""The Monday digest and the alerts: the week's answers, sent to the people who act on them."""
