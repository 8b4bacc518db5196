"""CodeStar Notifications in the embedded AWS: notification rules, their targets, and delivery."""
