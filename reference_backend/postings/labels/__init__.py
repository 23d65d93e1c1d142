"""Package labels (§5.8): the label PDF and the asynchronous label tasks."""
