"""SNS where moto 5.2.5 falls short: delivery to Lambda subscribers and delivery status logging."""
