"""What both HTTP doors share: the settings, the app's database and token cache, who is
calling, and the routing that turns a use case's refusals into each door's own answers.
Neither ``spinecare.api`` nor ``spinecare.web`` imports the other; both import this."""
