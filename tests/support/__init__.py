"""Code the tests share: servers, recordings, listeners, the stand-in ngrok agent."""
