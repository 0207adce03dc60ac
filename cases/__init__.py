"""Cases: the lifecycle of a filed complaint from routing to answer, rating and scorecards."""
